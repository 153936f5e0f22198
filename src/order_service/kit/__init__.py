"""Building blocks every domain uses: database access, errors, ids, money,
times, pagination, schema types, secrets, metrics and logs."""
