"""The transport: connections, the pool and the one place that dials."""
