-- The tables of binroute's HTTP API before organisations (as SQLAlchemy created them on SQLite).
CREATE TABLE api_keys (
	id VARCHAR(32) NOT NULL,
	name VARCHAR(200) NOT NULL,
	role VARCHAR(20) NOT NULL,
	key_hash VARCHAR(64) NOT NULL,
	created DATETIME NOT NULL,
	revoked DATETIME,
	PRIMARY KEY (id),
	UNIQUE (key_hash)
);
CREATE TABLE scenarios (
	id VARCHAR(32) NOT NULL,
	name VARCHAR(200) NOT NULL,
	created DATETIME NOT NULL,
	fleet_json TEXT NOT NULL,
	bins_csv TEXT NOT NULL,
	network_file VARCHAR(500) NOT NULL,
	PRIMARY KEY (id)
);
CREATE TABLE readings (
	id INTEGER NOT NULL,
	scenario_id VARCHAR(32) NOT NULL,
	bin_id VARCHAR(200) NOT NULL,
	ts DATETIME NOT NULL,
	fill_pct FLOAT NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_reading UNIQUE (scenario_id, bin_id, ts),
	FOREIGN KEY(scenario_id) REFERENCES scenarios (id) ON DELETE CASCADE
);
CREATE INDEX ix_reading_bin_ts ON readings (scenario_id, bin_id, ts);
CREATE TABLE plans (
	id VARCHAR(32) NOT NULL,
	scenario_id VARCHAR(32) NOT NULL,
	status VARCHAR(20) NOT NULL,
	options_json TEXT NOT NULL,
	error TEXT,
	summary_json TEXT,
	geojson TEXT,
	map_html TEXT,
	created DATETIME NOT NULL,
	started DATETIME,
	finished DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(scenario_id) REFERENCES scenarios (id) ON DELETE CASCADE
);
