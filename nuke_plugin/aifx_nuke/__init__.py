"""aifx for Nuke: the AIFill node (temporally consistent AI fill of a plate inside a mask).

Nuke's Python has no aifx-core: this package only builds the node, writes a job JSON and runs
``python -m aifx_core run job.json --json-progress`` in the aifx environment (see ``docs/nuke.md``).
Importing it does not import ``nuke``; :mod:`aifx_nuke.nodes` and :mod:`aifx_nuke.render` do.
"""

__version__ = "0.1.0"
