//! Durable state of the validator: schema, migrations and every query, with a PostgreSQL and an
//! embedded SQLite backend behind one interface.
