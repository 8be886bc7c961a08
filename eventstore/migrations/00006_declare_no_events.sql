-- +goose Up
-- eventstore.NoEvents: a transaction declares it writes no events, so the
-- readers' horizon skips it (see horizon.go). The declaration only holds if
-- nothing came before it: a transaction that wrote first may have written
-- events, or taken the transaction id the declaration's lock is keyed by
-- at a moment a reader had already found it undeclared. So the rule
-- "declare first" is enforced: a transaction that has a transaction id
-- already is refused.
-- The lock key must stay the one eventstore's declaredKey probes.
-- +goose StatementBegin
create function events_declare_no_events() returns void language plpgsql volatile as $$
begin
	if pg_current_xact_id_if_assigned() is not null then
		raise exception 'eventstore.NoEvents must be the first thing a transaction does: this one has written already'
			using errcode = 'active_sql_transaction';
	end if;
	perform pg_advisory_xact_lock(1668441453, ((x::text::bigint & 4294967295) - 2147483648)::int4)
		from pg_current_xact_id() as x;
	perform set_config('crm.no_events', 'on', true);
end
$$;
-- +goose StatementEnd
