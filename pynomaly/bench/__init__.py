"""Benchmarks that ship with the package, behind ``pynomaly bench``: end to
end (``e2e``, ``e2e_suite``, ``latency``, ``scaling``, ``memory``,
``replay``), detectors against their peers (``detectors``, ``detector_peers``,
``river_api``, ``subsequence``), alert fatigue (``alerts``) and the labelled
corpora (``nab``, ``ucr``, ``smd``; detector choices in
``detector_choice``)."""
