# aifx Nuke plugin, GUI only: an "AIFX" menu in the Nodes toolbar with the AIFill node.
import nuke

_toolbar = nuke.menu("Nodes")
_aifx = _toolbar.addMenu("AIFX", tooltip="aifx: AI fill for plates")
_aifx.addCommand(
    "AIFill",
    "import aifx_nuke.nodes; aifx_nuke.nodes.create_aifill()",
    tooltip="Remove what the Mask input marks from the Source plate, consistently over frames",
)
