-- every department's batch ledger, one row per batch (replays included, status 'duplicate');
-- the list of ledgers comes from the sources file, never from a list typed here
{% set ledgers = [] %}
{% for node in graph.sources.values() if node.source_name == 'exchange' %}
  {% do ledgers.append(node) %}
{% endfor %}
{% for node in ledgers %}
select
    '{{ node.meta.department }}' as department, batch_id, batch_key, period, status, delivered, accepted,
    rejected, duplicates, declared, checksum_ok, delivered_at, due_date, ingested_at
from {{ source('exchange', node.name) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
