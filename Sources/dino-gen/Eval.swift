import ArgumentParser
import Criterion
import Foundation

/// The criterion's options as command-line flags, with DINO_4scale's defaults.
struct CriterionFlags: ParsableArguments {
    @Option(help: "Matcher: hungarian (minimum-cost assignment) or minsum (cheapest query per target).")
    var matcher: String = "hungarian"
    @Option(help: "Weight of the focal class cost in the matching.") var costClass: Double = 2
    @Option(help: "Weight of the L1 box cost in the matching.") var costBbox: Double = 5
    @Option(help: "Weight of the GIoU cost in the matching.") var costGiou: Double = 2
    @Option(help: "Focal alpha (matching cost, label and mask losses).") var focalAlpha: Double = 0.25
    @Option(help: "Focal gamma.") var focalGamma: Double = 2
    @Option(help: "Weight of loss_ce (and _dn, _i).") var clsLossCoef: Double = 1
    @Option(help: "Weight of loss_bbox (and _dn, _i).") var bboxLossCoef: Double = 5
    @Option(help: "Weight of loss_giou (and _dn, _i).") var giouLossCoef: Double = 2
    @Option(help: "Factor on the _interm weights.") var intermLossCoef: Double = 1
    @Flag(help: "Give loss_bbox_interm and loss_giou_interm weight 0.") var noIntermBoxLoss = false
    @Option(help: "Weight of loss_mask.") var maskLossCoef: Double = 1
    @Option(help: "Weight of loss_dice.") var diceLossCoef: Double = 1
    @Option(help: "The normalizer (e.g. a distributed run's all-reduced average); default: the batch's target count. Clamped at 1.")
    var numBoxes: Double?
    @Option(help: "Threads for the kernels and the solver (default: all cores).") var threads: Int?

    func validate() throws {
        guard CriterionOptions.Matcher(rawValue: matcher) != nil else {
            throw ValidationError("--matcher must be hungarian or minsum, not '\(matcher)'")
        }
        for (name, value) in [("cost-class", costClass), ("cost-bbox", costBbox), ("cost-giou", costGiou), ("focal-alpha", focalAlpha),
                              ("focal-gamma", focalGamma), ("cls-loss-coef", clsLossCoef), ("bbox-loss-coef", bboxLossCoef),
                              ("giou-loss-coef", giouLossCoef), ("interm-loss-coef", intermLossCoef),
                              ("mask-loss-coef", maskLossCoef), ("dice-loss-coef", diceLossCoef), ("num-boxes", numBoxes ?? 1)]
        where !value.isFinite {
            throw ValidationError("--\(name) must be a finite number")
        }
        if !(0...1).contains(focalAlpha) { throw ValidationError("--focal-alpha must be between 0 and 1, not \(focalAlpha)") }
        if !(0...100).contains(focalGamma) { throw ValidationError("--focal-gamma must be between 0 and 100, not \(focalGamma)") }
        // weights beyond a million would overflow the float32 matching costs and the totals for no purpose
        for (name, value) in [("cost-class", costClass), ("cost-bbox", costBbox), ("cost-giou", costGiou),
                              ("cls-loss-coef", clsLossCoef), ("bbox-loss-coef", bboxLossCoef), ("giou-loss-coef", giouLossCoef),
                              ("interm-loss-coef", intermLossCoef), ("mask-loss-coef", maskLossCoef), ("dice-loss-coef", diceLossCoef)]
        where abs(value) > 1e6 {
            throw ValidationError("--\(name) must be between -1e6 and 1e6, not \(value)")
        }
        if let numBoxes, numBoxes < 0 { throw ValidationError("--num-boxes must not be negative, not \(numBoxes)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    var options: CriterionOptions {
        var o = CriterionOptions()
        o.matcher = CriterionOptions.Matcher(rawValue: matcher) ?? .hungarian
        o.costClass = costClass; o.costBbox = costBbox; o.costGiou = costGiou
        o.focalAlpha = focalAlpha; o.focalGamma = focalGamma
        o.clsLossCoef = clsLossCoef; o.bboxLossCoef = bboxLossCoef; o.giouLossCoef = giouLossCoef
        o.intermLossCoef = intermLossCoef; o.noIntermBoxLoss = noIntermBoxLoss
        o.maskLossCoef = maskLossCoef; o.diceLossCoef = diceLossCoef
        o.numBoxes = numBoxes; o.threads = threads
        return o
    }
}

/// `dino-gen eval`: the loss dict of one training step per input file.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute DINO's training criterion (the loss dict and the weighted total).",
        discussion: """
            Reads .safetensors or .npz files holding a training step's outputs and targets (tensor names as in
            SetCriterion's input, flattened with dots; or the stacked decoder output). With no file, runs on a
            built-in deterministic W0-shaped batch (B = 2, Q = 900, C = 91, 6 layers, interm, dn).

            Examples:
              dino-gen eval                                   # the built-in example
              dino-gen eval step.safetensors --json --indices
              dino-gen eval a.npz b.npz --matcher minsum --threads 1
            """)

    @Argument(help: "Input files (.safetensors or .npz). None: the built-in example batch.")
    var files: [String] = []
    @Flag(help: "One JSON object per input file, one per line.") var json = false
    @Flag(help: "With --json: add every head's matching.") var indices = false
    @Option(help: "Write the built-in example batch to this .safetensors file and exit.") var writeExample: String?
    @Option(help: "With --write-example: the example's batch size (default 2).") var exampleBatch: Int = 2
    @Option(help: "With --write-example: every image's number of targets (default: drawn from 0 … 29, image by image).")
    var exampleTargets: Int?
    @OptionGroup var criterion: CriterionFlags

    mutating func run() throws {
        if let path = writeExample {
            guard exampleBatch >= 1 else { throw ValidationError("--example-batch must be at least 1") }
            if let n = exampleTargets, n < 0 || n > 10_000 { throw ValidationError("--example-targets must be in 0 … 10000") }
            do { try CriterionInput.writeSynthetic(to: path, batch: exampleBatch, targets: exampleTargets) } catch {
                throw CommandFailure("\(error)")
            }
            return
        }
        let engine = Criterion(options: criterion.options)
        let sources = files.isEmpty ? [nil] : files.map { Optional($0) }
        let showProgress = sources.count > 1 && isatty(STDERR_FILENO) != 0
        // Every file is read and validated before anything is computed or printed.
        var inputs: [CriterionInput] = []
        for (k, path) in sources.enumerated() {
            if showProgress { FileHandle.standardError.write("\r[\(k + 1)/\(sources.count)] reading \(path ?? "")\u{1B}[K") }
            do {
                inputs.append(try path.map { try CriterionInput.load(path: $0) } ?? CriterionInput.synthetic())
            } catch {
                if showProgress { FileHandle.standardError.write("\r\u{1B}[K") }
                throw CommandFailure("\(error)")
            }
        }
        // Every result is computed before any is printed: a failure leaves standard output empty.
        var outputs: [String] = []
        for (k, input) in inputs.enumerated() {
            if showProgress { FileHandle.standardError.write("\r[\(k + 1)/\(inputs.count)] \(input.source)\u{1B}[K") }
            let start = Date()
            let result: CriterionResult
            do { result = try engine.evaluate(input) } catch {
                if showProgress { FileHandle.standardError.write("\r\u{1B}[K") }
                throw CommandFailure("\(input.source): \(error)")
            }
            let seconds = Date().timeIntervalSince(start)
            outputs.append(json ? OutputFormat.json(result, input: input.source, indices: indices)
                                : OutputFormat.table(result, input: input.source, seconds: seconds))
        }
        if showProgress { FileHandle.standardError.write("\r\u{1B}[K") }
        for output in outputs { print(output) }
    }
}
