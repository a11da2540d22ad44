'use strict';

// Runs on the cached Node 24 (its sqlite3 is built for that ABI) to read the newest execution
// of a workflow straight from n8n's database. `n8n execute` prints nothing useful when a run
// ends before the CLI subscribes to it ("No active execution found", e.g. on a missing
// required parameter); the real error is only stored here.
// Usage: node read-execution.js <n8nDir> <database.sqlite> <workflowId> <createdAtOrLater>
// Prints `{ id, status, resultData }` as JSON, or `null`.

const { createRequire } = require('node:module');
const path = require('node:path');

const [n8nDir, dbFile, workflowId, since] = process.argv.slice(2);
const requireFromN8n = createRequire(path.join(n8nDir, 'package.json'));
const sqlite3 = requireFromN8n('sqlite3');
const { parse } = requireFromN8n('flatted');

const db = new sqlite3.Database(dbFile, sqlite3.OPEN_READONLY);
const sql = `SELECT e.id, e.status, d.data FROM execution_entity e
	JOIN execution_data d ON d.executionId = e.id
	WHERE e.workflowId = ? AND e.createdAt >= ?
	ORDER BY e.id DESC LIMIT 1`;
db.get(sql, [workflowId, since], (error, row) => {
	db.close();
	if (error) throw error;
	// A run that failed before starting (unknown node type) is stored as '[]', status 'running'.
	const result = row ? { id: row.id, status: row.status, resultData: parse(row.data)?.resultData ?? null } : null;
	process.stdout.write(JSON.stringify(result));
});
