/** Replaces local $refs ('#/components/…') with their targets; the vendored contracts have no other kind and no cycles. */
export function dereferenceLocalRefs(document: unknown): unknown {
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
