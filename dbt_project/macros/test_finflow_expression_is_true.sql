{#-
  Generic data test: fails with every row where `<column> <expression>` (or, without a column, `<expression>`)
  is not true. Column level: `expression: ">= 0"`; model level: `expression: "abs(amount_difference) <= 1"`.
  NULL counts as a failure (NULL is not true); narrow the rows checked with the test's `config: where:`.
-#}
{% test finflow_expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ column_name ~ ' ' if column_name else '' }}{{ expression }}), false)
{% endtest %}
