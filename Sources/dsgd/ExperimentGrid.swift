import DSGDCluster

/// The example counts at which the runs of one experiment stop and are evaluated, shared by every
/// run so that they compare at equal examples: the budget (epochs x examples per epoch) and the
/// evaluation spacing are whole multiples of every run's examples per update (`examplesPerStep`),
/// so every run stops at exactly the budget and evaluates at the same example counts.
enum ExampleGrid {
    /// The greatest common divisor of two positive numbers.
    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    /// The least common multiple of positive numbers (1 for none).
    static func lcm(_ xs: [Int]) -> Int { xs.reduce(1) { $0 / gcd($0, $1) * $1 } }

    /// The budget in examples that every one of `jobs` reaches exactly after `epochs` epochs.
    /// - Throws: `CleanFailure` when the jobs' epochs differ in size, or when the budget is not a
    ///   whole multiple of every job's examples per update (naming the nearest epochs that are).
    static func budget(of jobs: [JobConfig], epochs: Double) throws -> Int {
        let sizes = Set(jobs.map(\.examplesPerEpoch))
        guard sizes.count == 1, let size = sizes.first, size > 0 else {
            throw CleanFailure("the runs' epochs differ in size (\(sizes.sorted().map(String.init).joined(separator: ", ")) examples): make the examples a multiple of workers x batch (x --sync-every)")
        }
        let unit = lcm(jobs.map(\.examplesPerStep))
        let exact = epochs * Double(size)
        if exact == exact.rounded(), exact >= 1, Int(exact) % unit == 0 { return Int(exact) }
        let step = unit / gcd(unit, size)  // epochs must be a multiple of this
        let suggestion = max(1, Int((epochs / Double(step)).rounded(.up))) * step
        throw CleanFailure("the budget of \(epochs) epochs x \(size) examples is not a whole multiple of \(unit), the least common multiple of every run's examples per update (\(Set(jobs.map(\.examplesPerStep)).sorted().map(String.init).joined(separator: ", "))), so the runs would not stop at the same example count; try --epochs \(suggestion)")
    }

    /// The evaluation spacing in examples: the smallest multiple of every job's examples per
    /// update that gives at most `maxEvaluations` evaluations over `budget`.
    static func spacing(of jobs: [JobConfig], budget: Int, maxEvaluations: Int) -> Int {
        let unit = lcm(jobs.map(\.examplesPerStep))
        let per = unit * max(maxEvaluations, 1)
        return unit * max(1, (budget + per - 1) / per)
    }

    /// `job` evaluated every `spacing` examples (`spacing` a multiple of its examples per update).
    static func evaluating(_ job: JobConfig, every spacing: Int) -> JobConfig {
        var j = job
        j.evalEvery = max(1, spacing / max(job.examplesPerStep, 1))
        return j
    }
}
