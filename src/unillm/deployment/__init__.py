"""Model deployments and the routing table built from them."""
