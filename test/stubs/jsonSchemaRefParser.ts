/**
 * Stands in for @apidevtools/json-schema-ref-parser under Jest (mapped in jest.config.js).
 * openapi-backend requires it, but it is an ES module, which plain Node 20 can require() and
 * Jest's CommonJS loader cannot (before Node 24.9). The vendored contracts only use local
 * $refs, which is all this resolves.
 */
import { dereferenceLocalRefs } from '../../simulator/localRefs';

export const parse = async (document: unknown) => document;
export const dereference = async (document: unknown) => dereferenceLocalRefs(document);
export const resolve = async () => {
	throw new Error('Resolving external $refs is not supported under Jest');
};
export default { parse, dereference, resolve };
