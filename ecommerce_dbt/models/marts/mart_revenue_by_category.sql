{{ revenue_by('category_l1', "coalesce(category_l1, 'unknown')") }}
