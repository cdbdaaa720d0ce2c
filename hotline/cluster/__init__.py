"""Several hotline nodes behind existing engines (docs/deployment.md).

- `hotline.cluster.haproxy`: the HAProxy configuration in front of the nodes' web workers (health checks
  on /healthz, sticky only for the browser voice) and HAProxy as a supervised child process.
- `hotline.cluster.local`: a whole cluster on one machine (a PostgreSQL database, nodes on loopback
  addresses, HAProxy, Kamailio's dispatcher): `scripts/cluster-demo`, the tests and `bench/cluster.py`.
- `hotline.cluster.pgpair`: a PostgreSQL primary with a streaming replica on local ports, for the
  failover runbook's test and benchmark.
- `hotline.cluster.cli`: `hotline cluster haproxy-config | demo`.

Kamailio's side (the dispatcher over every node's media processes) is `selfservice.kamailio`.
"""
