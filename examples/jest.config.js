/** @type {import('jest').Config} The examples' own jest run (examples/run.sh), apart from test/. */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/**/*.test.js'],
  testTimeout: 30000,
};
