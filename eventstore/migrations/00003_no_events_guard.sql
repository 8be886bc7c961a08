-- +goose Up
-- A transaction that declared it writes no events (eventstore.NoEvents) is
-- one the readers' horizon does not wait for; appending in it could land
-- events behind a reader's cursor, so the events table refuses it.
-- +goose StatementBegin
create function events_refuse_no_events_tx() returns trigger language plpgsql as $$
begin
	if current_setting('crm.no_events', true) = 'on' then
		raise exception 'events cannot be appended in a transaction that declared it writes none (eventstore.NoEvents)'
			using errcode = 'read_only_sql_transaction';
	end if;
	return null;
end
$$;
-- +goose StatementEnd

create trigger events_no_events_guard before insert on events
	for each statement execute function events_refuse_no_events_tx();
