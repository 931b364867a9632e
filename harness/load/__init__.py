"""Load testing: the gevent I/O adapter, the Locust users, run statistics, SLO gate, reports."""
