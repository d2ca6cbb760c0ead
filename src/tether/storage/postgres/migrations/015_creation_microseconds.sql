-- A workflow's creation time to the microsecond (epoch microseconds; created_at keeps the millisecond, which
-- the listing indexes serve). list_workflows bounds given to the microsecond compare on created_at and settle
-- a tie at the bound's millisecond with this column. Rows written before it (and imported rows) keep it NULL:
-- they are known to the millisecond only and count as inside a bound that falls in their millisecond.
ALTER TABLE workflow_status ADD COLUMN created_at_us BIGINT;
