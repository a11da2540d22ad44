/**
 * Once per `npm test` run: one n8n user folder for every test file that runs n8n's engine
 * in-process (harness/runWorkflow.ts). Jest hands each test file a copy of `process` whose 'exit'
 * event never fires, so a folder the harness made for itself there would be left behind.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup(): void {
	process.env.N8N_USER_FOLDER = mkdtempSync(join(tmpdir(), 'vipps-checkin-n8n-'));
}
