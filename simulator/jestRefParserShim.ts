import { dereferenceLocalRefs } from './localRefs';

// openapi-backend requires @apidevtools/json-schema-ref-parser, an ES module. Node 20 can require()
// it, but Jest's CommonJS loader cannot (before Node 24.9), so under Jest the parser is swapped for
// a local-$ref resolver, which is all the vendored contracts need. Import this before openapi-backend.
// `jest` is the module-scope object Jest gives every module it loads; plain Node has none.
declare const jest: { doMock(moduleName: string, factory: () => unknown): void } | undefined;

if (typeof jest !== 'undefined') {
	jest.doMock('@apidevtools/json-schema-ref-parser', () => ({
		parse: async (document: unknown) => document,
		dereference: async (document: unknown) => dereferenceLocalRefs(document),
		resolve: async () => {
			throw new Error('Resolving external $refs is not supported under Jest');
		},
	}));
}
