"""What keeps many keys' alerts from paging many times: alerts grouped into
incidents (:mod:`.grouping`), verdicts that adapt a key's decision
(:mod:`.feedback`), and a global alert budget enforced with a false-discovery
procedure over p-values pooled across keys (:mod:`.budget`). Callers import
from the defining modules."""
