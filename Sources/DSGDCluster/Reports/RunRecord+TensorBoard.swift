extension RunRecord {
    /// The metrics exported as TensorBoard scalars, under these tags, when a point has them.
    public static let tensorBoardTags = ["loss", "test_loss", "test_accuracy", "train_accuracy",
                                         "staleness_mean", "staleness_max", "examples", "epoch"]

    /// The run as a TensorBoard event file: one event per metrics point, at step = the point's
    /// `step` and wall time = `start` + its `time`, holding every tag of `tensorBoardTags` the
    /// point has with a finite value. `start` defaults to the run's `startTime` (else 0).
    public func tensorBoardFile(start: Double? = nil) -> TensorBoardWriter {
        let t0 = start ?? startTime ?? 0
        var writer = TensorBoardWriter(wallTime: t0)
        for m in metrics {
            let values = Self.tensorBoardTags.compactMap { tag in m.value(tag).map { (tag: tag, value: Float($0)) } }
            writer.appendScalars(values, step: Int64(m.step), wallTime: t0 + m.time)
        }
        return writer
    }
}
