// Prints one closing line that any CI log reader understands: "tests: N passed, N failed, N skipped".
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests: p, numFailedTests: f, numPendingTests: s, numTodoTests: t } = results;
    const failedSuites = results.numFailedTestSuites;
    if (failedSuites > 0 && f === 0) {
      process.stdout.write(`tests: ${p} passed, ${failedSuites} failed, ${s + t} skipped\n`);
    } else {
      process.stdout.write(`tests: ${p} passed, ${f} failed, ${s + t} skipped\n`);
    }
  }
}
module.exports = SummaryReporter;
