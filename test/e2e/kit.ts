/**
 * Typed access to the real-n8n kit (scripts/real-n8n): plain CommonJS so Node 20 scripts can use it
 * without a build, described here once so the end-to-end tests stay strict.
 */
import type { IDataObject, IRunData, IWorkflowBase } from 'n8n-workflow';

export interface N8nInstall {
	nodeBin: string;
	n8nBin: string;
	/** Holds node_modules/n8n and the rest of n8n's dependencies. */
	n8nDir: string;
	cacheDir: string;
}

/** The environment every n8n command on one user folder runs with. */
export type N8nEnv = Record<string, string>;

export interface CredentialToImport {
	id?: string;
	name: string;
	type: string;
	data: IDataObject;
}

export type ImportedCredential = CredentialToImport & { id: string };

export type WorkflowToImport = Pick<IWorkflowBase, 'name' | 'nodes' | 'connections'> & Partial<IWorkflowBase>;

export interface ExecuteResult {
	ok: boolean;
	runData: IRunData | null;
	lastNodeOutput: IDataObject[] | null;
	error: (IDataObject & { message: string }) | null;
	rawStdout: string;
	logTail: string;
}

export interface RunningN8n {
	url: string;
	pid: number;
	stop(): Promise<void>;
	wait(): Promise<{ code: number | null; signal: string | null }>;
	logTail(lines?: number): string;
}

/** n8n's internal REST API (`/rest/...`) as a logged-in user; answers unwrapped from `data`. */
export interface RestClient {
	url: string;
	cookie: string;
	get<T>(route: string): Promise<T>;
	post<T>(route: string, body?: unknown): Promise<T>;
	patch<T>(route: string, body?: unknown): Promise<T>;
}

export interface UserFolder {
	userFolder: string;
	packageDir: string | null;
	remove(): void;
}

interface RealN8nKit {
	ensureN8n(): Promise<N8nInstall>;
	packPackage(repoDir: string): Promise<string>;
	createUserFolder(options?: { tarball?: string }): Promise<UserFolder>;
	n8nEnv(options: { userFolder: string; port?: number; brokerPort?: number; extra?: Record<string, string> }): Promise<N8nEnv>;
	importCredentials(env: N8nEnv, credentials: CredentialToImport[]): Promise<ImportedCredential[]>;
	exportCredentials(env: N8nEnv): Promise<ImportedCredential[]>;
	importWorkflow(env: N8nEnv, workflow: WorkflowToImport): Promise<string>;
	executeWorkflow(env: N8nEnv, workflowId: string, options?: { timeoutMs?: number }): Promise<ExecuteResult>;
	startN8n(env: N8nEnv, options?: { timeoutMs?: number }): Promise<RunningN8n>;
	setupOwner(url: string): Promise<{ email: string; password: string; cookie: string }>;
	restClient(url: string, cookie: string): RestClient;
	freePort(): Promise<number>;
}

// CommonJS scripts without type declarations: the interface above is their contract.
export const kit = require('../../scripts/real-n8n/n8n') as RealN8nKit;
export const { N8N_VERSION } = require('../../scripts/real-n8n/install') as { N8N_VERSION: string };
