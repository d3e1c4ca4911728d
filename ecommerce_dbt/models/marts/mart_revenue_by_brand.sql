{{ revenue_by({'brand': 'brand'}) }}
