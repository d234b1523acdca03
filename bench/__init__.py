"""Benchmark harness for asgi-master: peer servers, apps, load generators."""
