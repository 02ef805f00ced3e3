/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // Native tests fork and change credentials; keep files in parallel but bounded (2 cores).
  maxWorkers: 2,
  testTimeout: 30000,
  // Each file ends the tracer it may have started (see the file).
  setupFilesAfterEnv: ['<rootDir>/test/setup/stop-tracer.ts'],
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
};
