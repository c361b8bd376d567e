-- Every source's staged transactions in one schema, with base-currency amounts.
with unioned as (
    {% for source_name in var('finflow_sources') %}
    select * from {{ ref('stg_' ~ source_name ~ '__transactions') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    unioned.*,
    round(unioned.amount * fx.rate_to_base, 2) as amount_base
from unioned
left join {{ ref('fx_rates') }} as fx
    on fx.currency = unioned.currency
