-- A key once: among the checked rows of a load (staging.<entity>_checked, valid so far), every
-- copy of a key after the first (by file, then line) is refused, and so is every row whose
-- key the warehouse already holds. The key is the fact table's primary key: the event date
-- and the ticket line or the event id (tills number their tickets day by day).
-- Composed by etl_helpers.loading.load: {checked} staging table, {fact} fact table, {key}
-- its key columns; the reasons are bound values.
with copies as (
    select
        file_id,
        line_no,
        first_value(file_id) over same_key as first_file,
        first_value(line_no) over same_key as first_line,
        row_number() over same_key as copy_number
    from {checked}
    window same_key as (partition by {key} order by file_id, line_no)
),
repeated as (
    select
        file_id,
        line_no,
        case
            when file_id = first_file
                then %(in_file_before)s::text || first_line || %(in_file_after)s::text
            else %(in_load)s::text
        end as reason
    from copies
    where copy_number > 1
),
loaded as (
    select c.file_id, c.line_no, %(already_loaded)s::text as reason
    from {checked} as c
    where exists (select from {fact} as f where {key_match})
),
final as (
    select distinct on (file_id, line_no) file_id, line_no, reason
    from (
        select 1 as rank, * from repeated
        union all
        select 2 as rank, * from loaded
    ) as refused
    order by file_id, line_no, rank
)
update {checked} as c
set reason = final.reason
from final
where c.file_id = final.file_id
  and c.line_no = final.line_no
