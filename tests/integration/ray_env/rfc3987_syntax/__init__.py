"""Stands in for ``rfc3987_syntax`` in the test clusters' Ray processes (on their PYTHONPATH only).

``import ray`` imports ``jsonschema`` (Ray's runtime-env schemas), whose format checkers import the real
``rfc3987_syntax`` when it is installed (it is here: jupyter-events asks for jsonschema[format-nongpl]);
that module builds an Earley parser for the RFC 3987 grammar at import: ~2 s of CPU in every Ray process
(`import ray`: 2.7 s of CPU with it, 0.7 s without). A node starts six Python processes at once and its
raylet gives the dashboard agent 15 s to come up, so on two busy cores that grammar alone makes starts
fail. jsonschema treats a missing format library as "don't check that format"; no Ray code validates IRIs.
"""

raise ImportError("rfc3987_syntax is left out of the test clusters' Ray processes (see this file)")
