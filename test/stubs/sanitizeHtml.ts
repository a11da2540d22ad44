/**
 * Stands in for sanitize-html under Jest (mapped in jest.config.js). n8n's Form Trigger loads it;
 * its parser (htmlparser2 12) is an ES module that Jest's CommonJS loader cannot load before
 * Node 24.9. The form code the tests run never sanitizes anything (that happens when the form
 * page is rendered), so a call fails the test loudly.
 */
function sanitizeHtml(): never {
	throw new Error('sanitize-html was called, but it is stubbed under Jest (test/stubs/sanitizeHtml.ts)');
}

export = Object.assign(sanitizeHtml, {
	defaults: { allowedTags: [], allowedAttributes: {} },
	simpleTransform: () => () => ({}),
});
