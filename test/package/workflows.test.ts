/**
 * The GitHub Actions workflows that test and publish the package (n8n verifies only packages
 * published from a GitHub Action with an npm provenance statement): valid for GitHub, as
 * action-validator (GitHub's workflow schema, offline) judges them, and the publish job's
 * guard against a tag, version or repository that do not agree.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const WORKFLOWS = join(ROOT, '.github', 'workflows');

const manifest = require('../../package.json') as { name: string; version: string; engines: { node: string }; repository: { url: string } };

type Step = { name?: string; run?: string };
type Job = { uses?: string; needs?: string | string[]; permissions?: Record<string, string>; steps?: Step[]; strategy?: { matrix: Record<string, unknown[]> } };
type Workflow = { on: unknown; jobs: Record<string, Job> };

function readWorkflow(file: string): Workflow {
	return parse(readFileSync(join(WORKFLOWS, file), 'utf8')) as Workflow;
}

/** `action-validator <file>`, the CLI as a developer runs it: exit status and everything it printed. */
function actionValidator(file: string): { status: number | null; output: string } {
	const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'action-validator'), [file], { cwd: ROOT, encoding: 'utf8' });
	return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('GitHub Actions workflows', () => {
	const files = readdirSync(WORKFLOWS).sort();

	it('are the CI and the publish workflow', () => {
		expect(files).toEqual(['ci.yml', 'publish.yml']);
	});

	it.each(files)('%s passes action-validator', (file) => {
		expect(actionValidator(join(WORKFLOWS, file))).toEqual({ status: 0, output: '' });
	});

	it.each([
		['a misspelt permission', 'id-token: write', 'id-token: writ', '/jobs/publish/permissions/id-token'],
		['a job that needs a job that does not exist', 'needs: ci\n', 'needs: tests\n', 'unresolved job tests'],
	])('action-validator rejects publish.yml with %s', (_, correct, broken, reported) => {
		const dir = mkdtempSync(join(tmpdir(), 'vipps-workflow-'));
		try {
			const source = readFileSync(join(WORKFLOWS, 'publish.yml'), 'utf8');
			expect(source).toContain(correct);
			writeFileSync(join(dir, 'publish.yml'), source.replaceAll(correct, broken));
			const { status, output } = actionValidator(join(dir, 'publish.yml'));
			expect(status).toBe(1);
			expect(output).toContain(reported);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it("CI tests on the oldest Node package.json's engines allow", () => {
		const oldest = Number(/^>=\s*(\d+)/.exec(manifest.engines.node)![1]);
		expect(readWorkflow('ci.yml').jobs.test.strategy!.matrix['node-version']).toContain(oldest);
	});
});

describe('publish.yml', () => {
	const workflow = readWorkflow('publish.yml');
	const { release, publish } = workflow.jobs;
	const stepOf = (job: Job, name: string) => {
		const found = job.steps!.find((s) => s.name === name);
		if (!found) throw new Error(`no step "${name}" in ${JSON.stringify(job.steps!.map((s) => s.name))}`);
		return found;
	};

	/** A step's own script, run as GitHub runs it for a tag push (bash -e), in `cwd`. */
	const runStep = (script: string, env: Record<string, string>, cwd = ROOT) => {
		const result = spawnSync('bash', ['-e', '-c', script], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
		return { status: result.status, output: `${result.stdout}${result.stderr}` };
	};

	it('releases on GitHub and then publishes to npm from a version tag, after the whole CI, with an OIDC token for the provenance statement', () => {
		expect(workflow.on).toEqual({ push: { tags: ['v*.*.*'] } });
		expect(workflow.jobs.ci.uses).toBe('./.github/workflows/ci.yml');
		expect(release.needs).toBe('ci');
		expect(release.permissions).toEqual({ contents: 'write' });
		expect(publish.needs).toEqual(['ci', 'release']);
		expect(publish.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
		expect(stepOf(publish, 'Publish').run).toContain('npm publish --provenance --access public');
	});

	describe('the release job', () => {
		it('builds before it packs (.npmrc skips lifecycle scripts, so `npm pack` alone would ship no dist/)', () => {
			const lines = stepOf(release, 'Build and pack').run!.trim().split('\n').map((line) => line.trim());
			expect(lines).toEqual(['npm run build', 'npm pack']);
			expect(readFileSync(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^ignore-scripts=true$/m);
		});

		it('attaches the tarball `npm pack` writes, to the release of the pushed tag, with the notes the step before wrote', () => {
			const create = stepOf(release, 'Create the release');
			expect(create.run).toMatch(/^gh release create "\$GITHUB_REF_NAME" (\S+\.tgz) .*--notes-file release-notes\.md/);
			const attached = /^gh release create "\$GITHUB_REF_NAME" (\S+\.tgz)/.exec(create.run!)![1];
			const [pack] = JSON.parse(
				spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' }).stdout,
			) as Array<{ filename: string }>;
			expect(pack.filename).toBe(`${manifest.name}-${manifest.version}.tgz`);
			expect(new RegExp(`^${attached.replace(/[.]/g, '\\.').replace('*', '.*')}$`).test(pack.filename)).toBe(true);
			expect((create as Step & { env?: Record<string, string> }).env).toEqual({ GH_TOKEN: '${{ github.token }}' });
		});

		describe('its check that the tag is package.json\'s version', () => {
			const check = stepOf(release, "Check the tag is package.json's version").run!;

			it("lets the tag of package.json's version through", () => {
				expect(runStep(check, { GITHUB_REF_NAME: `v${manifest.version}` })).toEqual({ status: 0, output: '' });
			});

			it("stops a tag that is not package.json's version", () => {
				const { status, output } = runStep(check, { GITHUB_REF_NAME: 'v99.0.0' });
				expect(status).toBe(1);
				expect(output).toContain(`::error::Tag v99.0.0 does not match package.json version ${manifest.version}`);
			});
		});

		describe('its release notes: the version\'s CHANGELOG.md entry', () => {
			const notesStep = stepOf(release, 'Release notes from CHANGELOG.md').run!;
			const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
			const heading = `## [${manifest.version}]`;

			/** Runs the step in a folder holding package.json (this version) and `changelogText` as CHANGELOG.md. */
			const notesFor = (changelogText: string) => {
				const dir = mkdtempSync(join(tmpdir(), 'vipps-release-notes-'));
				try {
					writeFileSync(join(dir, 'package.json'), JSON.stringify({ version: manifest.version }));
					writeFileSync(join(dir, 'CHANGELOG.md'), changelogText);
					const result = runStep(notesStep, {}, dir);
					const notes = result.status === 0 ? readFileSync(join(dir, 'release-notes.md'), 'utf8') : null;
					return { ...result, notes };
				} finally {
					rmSync(dir, { recursive: true, force: true });
				}
			};

			it("are the whole entry of package.json's version in CHANGELOG.md, once it is dated", () => {
				const line = changelog.split('\n').find((candidate) => candidate.startsWith(heading));
				expect(line).toBeDefined();
				const dated = changelog.replace(line!, `${heading} - 2026-12-01`);
				const { status, output, notes } = notesFor(dated);
				expect({ status, output }).toEqual({ status: 0, output: '' });
				expect(notes!.split('\n')[0]).toBe(`${heading} - 2026-12-01`);
				expect(notes).toContain('### Added');
				// Only this version: nothing from the entry below it, if any.
				expect(notes!.match(/^## \[/gm)).toHaveLength(1);
			});

			it('stop a release whose entry is still undated', () => {
				const { status, output } = notesFor(`# Changelog\n\n${heading} - Unreleased\n\n### Added\n\n- Something.\n`);
				expect(status).toBe(1);
				expect(output).toContain(`::error::CHANGELOG.md's entry for ${manifest.version} is not dated: ${heading} - Unreleased`);
			});

			it('stop a release that CHANGELOG.md does not mention', () => {
				const { status, output } = notesFor('# Changelog\n\n## [0.0.1] - 2026-01-01\n\n- Something.\n');
				expect(status).toBe(1);
				expect(output).toContain(`::error::CHANGELOG.md has no entry "${heading}"`);
			});
		});
	});

	describe("the publish job's check that package.json names the repository it runs in", () => {
		const check = stepOf(publish, 'Check package.json names this repository').run!;
		const repository = /github\.com\/([^/]+\/[^/]+?)(\.git)?$/.exec(manifest.repository.url)![1];

		it("lets a run in package.json's repository through", () => {
			expect(runStep(check, { GITHUB_REPOSITORY: repository })).toEqual({ status: 0, output: '' });
		});

		it('stops a run in a repository that package.json does not name', () => {
			const { status, output } = runStep(check, { GITHUB_REPOSITORY: 'someone-else/n8n-nodes-vipps-checkin' });
			expect(status).toBe(1);
			expect(output).toContain('expected https://github.com/someone-else/n8n-nodes-vipps-checkin');
		});
	});
});
