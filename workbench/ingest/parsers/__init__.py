"""One module per export format; each registers itself with workbench.ingest.registry."""
