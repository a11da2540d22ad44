import { readFileSync } from 'fs';
import { join } from 'path';
import { OpenAPIRouter, OpenAPIValidator, type AjvCustomizer, type Document, type Request } from 'openapi-backend';
import { parse } from 'yaml';
import type { RecordedRequest } from './types';

// Checks requests against the official, vendored OpenAPI contracts with openapi-backend's own
// router and validator. Synchronous (unlike OpenAPIBackend.init) so any test can call it inline.

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

const GUID_FORMAT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The formats the contracts use that openapi-backend does not define ('guid' for client_id, 'uri'). */
export const customizeContractAjv: AjvCustomizer = (ajv) =>
	ajv.addFormat('guid', GUID_FORMAT).addFormat('uri', (value: string) => URL.canParse(value));

const parsedDocuments = new Map<ContractName, Document>();

/** A fresh copy of a vendored contract, parsed once (openapi-backend dereferences its input in place). */
export function contractDocument(name: ContractName): Document {
	let document = parsedDocuments.get(name);
	if (document === undefined) {
		document = parse(readFileSync(join(__dirname, 'contract', CONTRACT_FILES[name]), 'utf8')) as Document;
		parsedDocuments.set(name, document);
	}
	return structuredClone(document);
}

/** The contracts' paths are relative to their server URL: '/point-of-sale' for check-in, '/qr' for QR, '/' for tokens. */
export function contractApiRoot(document: Document): string {
	const serverUrl = document.servers?.[0]?.url;
	return serverUrl === undefined ? '/' : new URL(serverUrl).pathname;
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

/** Replaces local $refs ('#/components/…') with their targets; the vendored contracts have no other kind and no cycles. */
function dereferenceLocalRefs(document: unknown): unknown {
	const resolved = new Map<string, unknown>();
	const resolve = (ref: string): unknown => {
		if (!resolved.has(ref)) resolved.set(ref, walk(pointerTarget(document, ref)));
		return resolved.get(ref);
	};
	const walk = (node: unknown): unknown => {
		if (Array.isArray(node)) return node.map(walk);
		if (typeof node !== 'object' || node === null) return node;
		const { $ref } = node as { $ref?: unknown };
		if (typeof $ref === 'string') return resolve($ref);
		return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value)]));
	};
	return walk(document);
}

function pointerTarget(document: unknown, ref: string): unknown {
	if (!ref.startsWith('#/')) throw new Error(`Only local $refs are supported, got ${ref}`);
	return ref
		.slice(2)
		.split('/')
		.map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
		.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], document);
}
