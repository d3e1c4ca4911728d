{{ revenue_by('brand') }}
