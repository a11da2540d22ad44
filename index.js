// n8n loads this package's node and credential from the paths in package.json's "n8n" section;
// nothing is exported here.
module.exports = {};
