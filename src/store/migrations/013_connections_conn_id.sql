-- flashcharge schema, version 10: connection ids unique across restarts.
--
-- A server numbers its charger connections from the largest id any earlier
-- process gave (fc_store_load_left_online): with this index that largest one
-- is a single seek, however long the connection log has grown.

CREATE INDEX IF NOT EXISTS connections_conn_id ON connections (conn_id);
