# syntax=docker/dockerfile:1
# Spark standalone master and worker for docker-compose.yaml (build context: the repository root).
#
# The driver runs in the code-server container (docker/Dockerfile). Driver and executors must run the
# same Spark build, the same Java major version and the same Python minor version, so both images take
# their base images from the same ARG defaults and pyspark from constraints.txt; the s3a jars match the
# Hadoop client that this pyspark bundles (pyspark/jars/hadoop-client-api-<HADOOP_VERSION>.jar).
# ecommerce_assets_tests/test_compose.py checks that these pins agree.

ARG PYTHON_IMAGE=python:3.11-slim
# Debian trixie (today's python:*-slim) ships no OpenJDK 17 package: take the Temurin 17 JRE instead.
ARG JRE_IMAGE=eclipse-temurin:17-jre

FROM ${JRE_IMAGE} AS jre

# hadoop-aws for the bundled Hadoop, the AWS SDK v2 bundle it was built against (hadoop-project's
# aws-java-sdk-v2.version), and the S3 analytics accelerator that hadoop-aws 3.5 depends on.
FROM ${PYTHON_IMAGE} AS s3a-jars
ARG HADOOP_VERSION=3.5.0
ARG AWS_SDK_VERSION=2.35.4
ARG ANALYTICS_ACCELERATOR_VERSION=1.3.1
ARG MAVEN_REPOSITORY=https://repo1.maven.org/maven2
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /jars
# Each jar is checked against the .sha1 Maven Central publishes beside it: a truncated download fails the build.
RUN set -eu; \
    fetch() { \
      curl -fsSL --retry 5 -o "$2" "${MAVEN_REPOSITORY}/$1/$2"; \
      printf '%s  %s\n' "$(curl -fsSL --retry 5 "${MAVEN_REPOSITORY}/$1/$2.sha1" | cut -c1-40)" "$2" | sha1sum -c -; \
    }; \
    fetch "org/apache/hadoop/hadoop-aws/${HADOOP_VERSION}" "hadoop-aws-${HADOOP_VERSION}.jar"; \
    fetch "software/amazon/awssdk/bundle/${AWS_SDK_VERSION}" "bundle-${AWS_SDK_VERSION}.jar"; \
    fetch "software/amazon/s3/analyticsaccelerator/analyticsaccelerator-s3/${ANALYTICS_ACCELERATOR_VERSION}" \
          "analyticsaccelerator-s3-${ANALYTICS_ACCELERATOR_VERSION}.jar"

FROM ${PYTHON_IMAGE}
ARG PYSPARK_VERSION=4.3.0
ENV JAVA_HOME=/opt/java/openjdk \
    PATH=/opt/java/openjdk/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SPARK_NO_DAEMONIZE=1 \
    SPARK_WORKER_DIR=/opt/spark/work
COPY --from=jre /opt/java/openjdk /opt/java/openjdk

# The same pyspark (and py4j) as the driver: constraints.txt is the one list of exact versions, bound
# from the build context for this step only (nothing is left in the image).
WORKDIR /opt/spark
RUN --mount=type=bind,source=constraints.txt,target=constraints.txt \
    pip install -c constraints.txt "pyspark==${PYSPARK_VERSION}"

# Into pyspark's own jars folder, where spark-class puts every jar on the classpath (one layer, no copy kept aside).
RUN --mount=type=bind,from=s3a-jars,source=/jars,target=/mnt/s3a-jars \
    cp /mnt/s3a-jars/*.jar "$(python -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')/"

RUN useradd --create-home --uid 1000 spark \
 && mkdir -p /opt/spark/work \
 && chown spark:spark /opt/spark/work
USER spark
WORKDIR /opt/spark
# 7077: master RPC; 8080: master UI; 8081: worker UI.
EXPOSE 7077 8080 8081
