import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import {
	OpenAPIBackend,
	OpenAPIRouter,
	OpenAPIValidator,
	type AjvCustomizer,
	type Document,
	type Request,
} from 'openapi-backend';
import { parse } from 'yaml';
import { dereferenceLocalRefs } from './localRefs';
import type { RecordedRequest } from './types';

// Checks requests against the official, vendored OpenAPI contracts with openapi-backend.
// validateAgainstContract is synchronous (unlike OpenAPIBackend.init) so any test can call it inline;
// contractBackend gives the full OpenAPIBackend, for response checks and to cross-check the helper.

export type ContractName = 'accessToken' | 'checkIn' | 'qr';

export interface ContractVerdict {
	valid: boolean;
	errors: string[];
}

const CONTRACT_FILES: Record<ContractName, string> = {
	accessToken: 'access-token-api.swagger.yaml',
	checkIn: 'check-in-api.swagger.yaml',
	qr: 'qr-api.swagger.yaml',
};

/** Report every violation, not just the first, so a failing test says all that is wrong. */
const AJV_OPTIONS = { allErrors: true };
const GUID_FORMAT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The formats the contracts use that openapi-backend does not define ('guid' for client_id, 'uri'). */
export const customizeContractAjv: AjvCustomizer = (ajv) =>
	ajv.addFormat('guid', GUID_FORMAT).addFormat('uri', (value: string) => URL.canParse(value));

/** The vendored YAML stays in the source tree: found from simulator/ (ts-jest) and from dist/simulator/ (the built scripts). */
const CONTRACT_DIR = [join(__dirname, 'contract'), join(__dirname, '..', '..', 'simulator', 'contract')].find((dir) => existsSync(dir)) ?? join(__dirname, 'contract');

const parsedDocuments = new Map<ContractName, Document>();

/** A fresh copy of a vendored contract, parsed once (openapi-backend dereferences its input in place). */
export function contractDocument(name: ContractName): Document {
	let document = parsedDocuments.get(name);
	if (document === undefined) {
		document = parse(readFileSync(join(CONTRACT_DIR, CONTRACT_FILES[name]), 'utf8')) as Document;
		parsedDocuments.set(name, document);
	}
	return structuredClone(document);
}

/** The contracts' paths are relative to their server URL: '/point-of-sale' for check-in, '/qr' for QR, '/' for tokens. */
export function contractApiRoot(document: Document): string {
	const serverUrl = document.servers?.[0]?.url;
	return serverUrl === undefined ? '/' : new URL(serverUrl).pathname;
}

const backends = new Map<ContractName, Promise<OpenAPIBackend>>();

/** The full OpenAPIBackend for a contract, initialised once in strict mode (an invalid contract throws). */
export function contractBackend(name: ContractName): Promise<OpenAPIBackend> {
	let backend = backends.get(name);
	if (backend === undefined) {
		const definition = contractDocument(name);
		backend = new OpenAPIBackend({
			definition,
			apiRoot: contractApiRoot(definition),
			ignoreTrailingSlashes: false,
			strict: true,
			ajvOpts: AJV_OPTIONS,
			customizeAjv: customizeContractAjv,
		}).init();
		backends.set(name, backend);
	}
	return backend;
}

interface ContractChecker {
	router: OpenAPIRouter;
	validator: OpenAPIValidator;
}

let checkers: ContractChecker[] | undefined;

function contractCheckers(): ContractChecker[] {
	checkers ??= (Object.keys(CONTRACT_FILES) as ContractName[]).map(buildChecker);
	return checkers;
}

function buildChecker(name: ContractName): ContractChecker {
	const definition = dereferenceLocalRefs(contractDocument(name)) as Document;
	// Trailing slashes count: the simulator, like the contract, knows each path in one spelling only.
	const router = new OpenAPIRouter({ definition, apiRoot: contractApiRoot(definition), ignoreTrailingSlashes: false });
	const validator = new OpenAPIValidator({
		definition,
		router,
		ajvOpts: AJV_OPTIONS,
		customizeAjv: customizeContractAjv,
		lazyCompileValidators: true,
	});
	return { router, validator };
}

/**
 * Checks a request from the simulator's log against the official contracts. Redacted headers keep
 * their presence, and the contracts type every secret header as a plain string, so redaction does
 * not change the verdict.
 */
export function validateAgainstContract(recorded: RecordedRequest): ContractVerdict {
	return validateContractRequest({
		method: recorded.method,
		path: recorded.path,
		headers: recorded.headers,
		body: recorded.rawBody === '' ? undefined : recorded.rawBody,
	});
}

/** The same check for a request described by hand; `body` is the raw text, as sent. */
export function validateContractRequest(request: Request): ContractVerdict {
	for (const { router, validator } of contractCheckers()) {
		const operation = router.matchOperation(request);
		if (operation === undefined) continue;
		const result = validator.validateRequest(request, operation);
		return { valid: result.valid, errors: (result.errors ?? []).map((error) => `${error.instancePath} ${error.message}`.trim()) };
	}
	return { valid: false, errors: [`No operation in the vendored contracts matches ${request.method} ${request.path}`] };
}
