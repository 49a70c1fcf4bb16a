/** @type {import('jest').Config} The memcheck run (scripts/test-memcheck.sh), apart from `npm test`. */
module.exports = {
  ...require('../../jest.config.js'),
  rootDir: '../..',
  testMatch: ['<rootDir>/test/memcheck/**/*.memcheck.ts'],
  testTimeout: 120000,
};
