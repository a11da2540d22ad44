'use strict';

// Counts n8n's writes of credentials, for bench/expirable-pattern.js. Runs on the cached Node 24
// (its sqlite3 is built for that ABI), like scripts/real-n8n/read-execution.js.
//   node credential-writes.js <n8nDir> <database.sqlite> install
//     adds a table and an AFTER UPDATE trigger on credentials_entity that logs every write
//     (only in the bench's throwaway user folder; n8n's code is untouched)
//   node credential-writes.js <n8nDir> <database.sqlite> take
//     prints `{ "<credentialId>": writes }` logged since the last take, and clears the log

const { createRequire } = require('node:module');
const path = require('node:path');

const [n8nDir, dbFile, command] = process.argv.slice(2);
const sqlite3 = createRequire(path.join(n8nDir, 'package.json'))('sqlite3');

const STATEMENTS = {
	install: [
		'CREATE TABLE IF NOT EXISTS bench_credential_writes (credentialId TEXT NOT NULL)',
		`CREATE TRIGGER IF NOT EXISTS bench_count_credential_writes AFTER UPDATE ON credentials_entity
		 BEGIN INSERT INTO bench_credential_writes (credentialId) VALUES (NEW.id); END`,
	],
	take: [
		'SELECT credentialId, COUNT(*) AS writes FROM bench_credential_writes GROUP BY credentialId',
		'DELETE FROM bench_credential_writes',
	],
};

if (!STATEMENTS[command]) throw new Error(`unknown command ${command}: install or take`);
const db = new sqlite3.Database(dbFile);
const result = {};
db.serialize(() => {
	for (const sql of STATEMENTS[command]) {
		db.all(sql, (error, rows) => {
			if (error) throw error;
			for (const { credentialId, writes } of rows ?? []) result[credentialId] = writes;
		});
	}
	db.close(() => process.stdout.write(JSON.stringify(result)));
});
