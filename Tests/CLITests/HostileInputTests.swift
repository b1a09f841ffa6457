import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The corpus of bad inputs, run through the built `dino-gen eval FILE`: each must end with exit
/// status 1, exactly one message on standard error naming the file (and the tensor, and the first
/// bad index, where they apply), nothing on standard output, and no signal.
final class HostileInputTests: XCTestCase {
    /// One bad input and the error it must produce.
    struct BadInput {
        /// What the case covers.
        let title: String
        /// The file name the input gets in the test's folder.
        let file: String
        /// The tensor the message must name (nil: the file as a whole).
        let tensor: String?
        /// A fragment of the message after the tensor.
        let reason: String
        /// The first bad index the message must end with.
        var index: [Int]? = nil
        /// Creates the input at the given path.
        let make: (URL) throws -> Void

        init(_ title: String, file: String, tensor: String?, reason: String, index: [Int]? = nil, make: @escaping (URL) throws -> Void) {
            self.title = title
            self.file = file
            self.tensor = tensor
            self.reason = reason
            self.index = index
            self.make = make
        }

        /// A safetensors file of the given bytes.
        static func st(_ title: String, tensor: String?, reason: String, index: [Int]? = nil, bytes: @escaping () -> [UInt8]) -> BadInput {
            BadInput(title, file: fileName(title, "safetensors"), tensor: tensor, reason: reason, index: index) { url in
                try write(bytes(), to: url)
            }
        }

        /// The small batch, changed, as a safetensors file.
        static func rule(_ title: String, tensor: String?, reason: String, index: [Int]? = nil, batch: @escaping () -> SmallBatch) -> BadInput {
            st(title, tensor: tensor, reason: reason, index: index) { batch().safetensors }
        }

        /// An .npz file of the given bytes.
        static func npz(_ title: String, tensor: String?, reason: String, index: [Int]? = nil, bytes: @escaping () -> [UInt8]) -> BadInput {
            BadInput(title, file: fileName(title, "npz"), tensor: tensor, reason: reason, index: index) { url in try write(bytes(), to: url) }
        }

        static func fileName(_ title: String, _ ext: String) -> String {
            String(title.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }.prefix(48)) + "." + ext
        }
    }

    private var folder: URL!

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
    }

    // MARK: - The checks

    /// Runs `dino-gen eval` on `input` and checks the outcome; returns the message.
    @discardableResult
    private func check(_ input: BadInput, path givenPath: String? = nil, line: UInt = #line) throws -> String {
        let path = givenPath ?? folder.appendingPathComponent(input.file).path
        if givenPath == nil { try input.make(URL(fileURLWithPath: path)) }
        let run = try CLIRun.run(["eval", path], in: folder)
        return checkFailure(run, path: path, tensor: input.tensor, reason: input.reason, index: input.index,
                            title: input.title, line: line)
    }

    /// Exit status 1, no signal, nothing on standard output, exactly one line on standard error:
    /// `[Error: ]PATH: [tensor 'NAME': ]…REASON…[ (first bad index [i, j])]`.
    @discardableResult
    private func checkFailure(_ run: CLIRun, path: String, tensor: String?, reason: String, index: [Int]?,
                              title: String, line: UInt = #line) -> String {
        let context = "[\(title)] stderr: \(run.standardError.prefix(2000))"
        XCTAssertNil(run.signal, "killed by signal \(run.signal ?? 0) \(context)", line: line)
        XCTAssertEqual(run.status, 1, context, line: line)
        XCTAssertEqual(run.stdout.count, 0, "[\(title)] partial output on stdout: \(run.standardOutput.prefix(300))", line: line)
        let text = run.standardError
        XCTAssertTrue(text.hasSuffix("\n"), context, line: line)
        XCTAssertEqual(text.filter { $0 == "\n" }.count, 1, "not exactly one line \(context)", line: line)
        var message = text.trimmingCharacters(in: .newlines)
        if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
        guard message.hasPrefix(path + ": ") else {
            XCTFail("the message does not start with the path \(path) \(context)", line: line)
            return message
        }
        let rest = message.dropFirst(path.count + 2)
        if let tensor {
            XCTAssertTrue(rest.hasPrefix("tensor '\(tensor)': "), "the message does not name tensor '\(tensor)' \(context)", line: line)
        } else {
            XCTAssertFalse(rest.hasPrefix("tensor '"), "the message names a tensor where none applies \(context)", line: line)
        }
        XCTAssertTrue(rest.contains(reason), "the message lacks '\(reason)' \(context)", line: line)
        if let index {
            let suffix = "(first bad index [" + index.map(String.init).joined(separator: ", ") + "])"
            XCTAssertTrue(rest.hasSuffix(suffix), "the message does not end with \(suffix) \(context)", line: line)
        } else {
            XCTAssertFalse(rest.contains("first bad index"), context, line: line)
        }
        return message
    }

    private func checkAll(_ corpus: [BadInput], line: UInt = #line) throws {
        XCTAssertEqual(Set(corpus.map(\.file)).count, corpus.count, "two cases share a file name", line: line)
        for input in corpus { try check(input, line: line) }
    }

    // MARK: - The valid bases (controls: the corpus's errors come from the one change each makes)

    func testSmallBatchIsValidInBothFormats() throws {
        let st = folder.appendingPathComponent("base.safetensors"), npz = folder.appendingPathComponent("base.npz")
        try write(SmallBatch().safetensors, to: st)
        try write(SmallBatch().npz, to: npz)
        let run = try CLIRun.run(["eval", "--json", st.path, npz.path], in: folder)
        XCTAssertEqual(run.status, 0, run.standardError)
        XCTAssertEqual(run.stderr.count, 0, run.standardError)
        let lines = run.standardOutput.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        guard lines.count == 2 else { return }
        let objects = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let st0 = try XCTUnwrap(objects[0]["losses"] as? [String: Double]), npz0 = try XCTUnwrap(objects[1]["losses"] as? [String: Double])
        XCTAssertEqual(st0, npz0, "the same tensors as .safetensors and .npz give different losses")
        XCTAssertEqual(objects[0]["input"] as? String, st.path)
        // Masks and denoising are present, so their keys are computed (not the zeros of an absent part).
        XCTAssertNotNil(st0["loss_mask"])
        XCTAssertGreaterThan(st0["loss_ce_dn"] ?? 0, 0)
        XCTAssertEqual(st0.keys.filter { $0.hasPrefix("loss_ce_") }.sorted(), ["loss_ce_0", "loss_ce_1", "loss_ce_dn", "loss_ce_dn_0", "loss_ce_dn_1", "loss_ce_interm"])
    }

    // MARK: - Files that are not there, not regular, or not readable

    func testFilesThatCannotBeRead() throws {
        let base = folder.appendingPathComponent("base.safetensors")
        try write(SmallBatch().safetensors, to: base)
        let corpus: [BadInput] = [
            BadInput("empty safetensors file", file: "empty.safetensors", tensor: nil, reason: "file is empty") { try write([], to: $0) },
            BadInput("empty npz file", file: "empty.npz", tensor: nil, reason: "file is empty") { try write([], to: $0) },
            BadInput("a directory", file: "folder.safetensors", tensor: nil, reason: "is a directory, not a tensor file") {
                try FileManager.default.createDirectory(at: $0, withIntermediateDirectories: false)
            },
            BadInput("missing file", file: "missing.safetensors", tensor: nil, reason: "cannot open the file: No such file or directory") { _ in },
            BadInput("dangling symlink", file: "dangling.safetensors", tensor: nil, reason: "cannot open the file: No such file or directory") {
                try FileManager.default.createSymbolicLink(atPath: $0.path, withDestinationPath: "nowhere.safetensors")
            },
            // Opening a FIFO for reading would wait for a writer; the reader must refuse it at once.
            BadInput("a FIFO", file: "fifo.safetensors", tensor: nil, reason: "is not a regular file (a FIFO)") {
                XCTAssertEqual(mkfifo($0.path, 0o644), 0, "mkfifo: \(String(cString: strerror(errno)))")
            },
        ]
        for input in corpus { try check(input) }
        // A path through a regular file: open fails with ENOTDIR, even for root.
        try check(BadInput("path inside a file", file: "", tensor: nil, reason: "cannot open the file: Not a directory") { _ in },
                  path: base.path + "/step.safetensors")
        try check(BadInput("a character device", file: "", tensor: nil, reason: "is not a regular file (a character device)") { _ in },
                  path: "/dev/null")
    }

    /// Unreadable by its permissions. Root reads everything, so this case only runs without
    /// privileges; the other unreadable cases (a FIFO, a path through a file, a dangling link) run as root too.
    func testFileWithoutReadPermission() throws {
        let input = BadInput("no read permission", file: "locked.safetensors", tensor: nil, reason: "cannot open the file: Permission denied") {
            try write(SmallBatch().safetensors, to: $0)
            XCTAssertEqual(chmod($0.path, 0), 0)
        }
        let path = folder.appendingPathComponent(input.file).path
        try input.make(URL(fileURLWithPath: path))
        if FileManager.default.isReadableFile(atPath: path) {
            throw XCTSkip("running with privileges that read any file (root): a file without read permission is still readable")
        }
        try check(input, path: path)
    }

    // MARK: - safetensors structure

    static let structure: [BadInput] = {
        let base = SmallBatch()
        let bytes = base.safetensors
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        let dataLength = bytes.count - 8 - headerLength
        // The data offsets as the test's own writer lays them out: in order, no padding.
        var ends: [(String, Int)] = []
        var end = 0
        for t in base.tensors { end += t.bytes.count; ends.append((t.name, end)) }
        let half = dataLength / 2
        let cutTensor = ends.first { $0.1 > half }!.0
        func withHeader(_ text: String, declared: UInt64? = nil) -> [UInt8] {
            littleEndian([declared ?? UInt64(text.utf8.count)]) + Array(text.utf8)
        }
        func offsets(_ batch: SmallBatch, _ name: String, _ range: (Int, Int)) -> [UInt8] {
            batch.changing(name) { $0.offsets = range }.safetensors
        }
        // pred_logits is 2 × 6 × 5 F32 = 240 bytes at [0, 240]; pred_boxes 2 × 6 × 4 F32 = 192 at [240, 432].
        return [
            .st("truncated to 5 bytes", tensor: nil, reason: "file is truncated: 5 bytes, too short for the 8-byte safetensors header length") {
                Array(bytes.prefix(5))
            },
            .st("truncated inside the header", tensor: nil, reason: "header length \(headerLength) goes beyond the end of the file (48 bytes)") {
                Array(bytes.prefix(48))
            },
            .st("truncated by 3 bytes", tensor: base.tensors.last!.name, reason: "go beyond the end of the data buffer (\(dataLength - 3) bytes)") {
                Array(bytes.dropLast(3))
            },
            .st("truncated at half the data", tensor: cutTensor, reason: "go beyond the end of the data buffer (\(half) bytes)") {
                Array(bytes.prefix(8 + headerLength + half))
            },
            .st("header length beyond the file", tensor: nil, reason: "header length \(headerLength + 5000) goes beyond the end of the file (\(bytes.count) bytes)") {
                littleEndian([UInt64(headerLength + 5000)]) + bytes.dropFirst(8)
            },
            .st("header length over 100 MB", tensor: nil, reason: "header length 100000001 exceeds the limit of 100000000 bytes (100 MB)") {
                littleEndian([UInt64(100_000_001)]) + bytes.dropFirst(8)
            },
            .st("header length 2^64 - 1", tensor: nil, reason: "header length 18446744073709551615 exceeds the limit") {
                littleEndian([UInt64.max]) + bytes.dropFirst(8)
            },
            .st("header not JSON", tensor: nil, reason: "header is not valid JSON: unexpected ';', expected ':' at header byte 14") {
                // {"pred_logits":{… with the first ':' replaced: the same length, so the data is where it was.
                var b = bytes
                b[8 + 14] = UInt8(ascii: ";")
                return b
            },
            .st("header JSON but not an object", tensor: nil, reason: "header is not a JSON object") {
                withHeader("[{\"dtype\":\"F32\"}]")
            },
            .st("header entry not an object", tensor: "pred_logits", reason: "header entry must be an object with dtype, shape and data_offsets, found a number") {
                withHeader("{\"pred_logits\":3}")
            },
            .st("header not UTF-8", tensor: nil, reason: "header is not valid UTF-8 (at header byte 3)") {
                let header: [UInt8] = Array("{\"a".utf8) + [0xC3, 0x28] + Array("\":{}}".utf8)
                return littleEndian([UInt64(header.count)]) + header
            },
            .st("data offsets beyond the data", tensor: "pred_boxes", reason: "data_offsets [\(dataLength), \(dataLength + 192)] go beyond the end of the data buffer (\(dataLength) bytes)") {
                offsets(base, "pred_boxes", (dataLength, dataLength + 192))
            },
            .st("data offsets overlapping", tensor: "pred_boxes", reason: "data_offsets [200, 392] overlap those of tensor 'pred_logits'") {
                offsets(base, "pred_boxes", (200, 392))
            },
            .st("data offsets unordered", tensor: "pred_boxes", reason: "data_offsets [432, 240] end before they start") {
                offsets(base, "pred_boxes", (432, 240))
            },
            .st("data offsets leaving a gap", tensor: "pred_boxes",
                reason: "data_offsets [244, 436] leave a gap: bytes 240..<244 of the data buffer belong to no tensor") {
                offsets(base, "pred_boxes", (244, 436))
            },
            .st("data offsets beyond 2^63", tensor: "pred_logits", reason: "'data_offsets' must be an array of two non-negative integers") {
                withHeader("{\"pred_logits\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}")
            },
            .st("unknown dtype", tensor: "pred_logits", reason: "unknown or unsupported dtype 'F8_E4M3'") {
                base.changing("pred_logits") { $0.dtype = "F8_E4M3" }.safetensors
            },
            .st("shape times dtype size is not the byte count", tensor: "pred_boxes",
                     reason: "shape [2, 6, 5] of F32 needs 240 bytes, but data_offsets [240, 432] span 192 bytes") {
                base.changing("pred_boxes") { $0.shape = [2, 6, 5] }.safetensors
            },
            .st("shape with an overflowing product", tensor: "pred_boxes", reason: "is absurdly large") {
                base.changing("pred_boxes") { $0.shape = [1 << 31, 1 << 31, 1 << 31] }.safetensors
            },
            .st("duplicate tensor", tensor: "pred_logits", reason: "appears twice in the header (duplicate tensor name)") {
                var b = base
                b.tensors.insert(base["pred_logits"], at: 1)
                return b.safetensors
            },
        ]
    }()

    func testSafetensorsStructure() throws {
        try checkAll(Self.structure)
    }

    // MARK: - The criterion's rules (DESIGN §3)

    static let dn = "dn_meta.output_known_lbs_bboxes."

    static let criterionRules: [BadInput] = {
        let base = SmallBatch()
        return [
            // Missing tensors.
            .rule("missing pred_boxes", tensor: "pred_boxes", reason: "is missing") { base.removing("pred_boxes") },
            .rule("missing labels of image 1", tensor: "targets.1.labels", reason: "is missing") { base.removing("targets.1.labels") },
            .rule("missing num_dn_group", tensor: "dn_meta.num_dn_group", reason: "is missing") { base.removing("dn_meta.num_dn_group") },
            .rule("dn tensors without dn_meta", tensor: "dn_meta.pad_size", reason: "is missing, though \(dn)aux_outputs.0.pred_boxes is present") {
                base.removing("dn_meta.pad_size", "dn_meta.num_dn_group")
            },
            .rule("aux_outputs with a gap", tensor: "aux_outputs.1.pred_logits",
                     reason: "is missing: the layers aux_outputs.N must be numbered 0, 1, … without a gap, found 0, 2") {
                base.renaming(prefix: "aux_outputs.1.", to: "aux_outputs.2.")
            },
            .rule("dn aux layers fewer than aux layers", tensor: "\(dn)aux_outputs.1.pred_logits",
                     reason: "is missing: there are 2 auxiliary layers but only 1 dn auxiliary layers") {
                base.removing("\(dn)aux_outputs.1.pred_logits", "\(dn)aux_outputs.1.pred_boxes")
            },
            // B, Q, C across heads.
            .rule("batch disagreeing", tensor: "aux_outputs.0.pred_logits", reason: "has batch size 1, but pred_logits has 2") {
                base.reshaping("aux_outputs.0.pred_logits", to: [1, 6, 5])
            },
            .rule("queries disagreeing", tensor: "interm_outputs.pred_logits", reason: "has 5 queries, but pred_logits has 6") {
                base.reshaping("interm_outputs.pred_logits", to: [2, 5, 5])
            },
            .rule("classes disagreeing", tensor: "\(dn)aux_outputs.1.pred_logits", reason: "has 4 classes, but pred_logits has 5") {
                base.reshaping("\(dn)aux_outputs.1.pred_logits", to: [2, 4, 4])
            },
            .rule("boxes not 4 wide", tensor: "aux_outputs.1.pred_boxes",
                     reason: "must have shape [2, 6, 4] (B × queries × 4, like aux_outputs.1.pred_logits), found [2, 6, 3]") {
                base.reshaping("aux_outputs.1.pred_boxes", to: [2, 6, 3])
            },
            .rule("logits of rank 2", tensor: "pred_logits", reason: "must have 3 dimensions, found shape [12, 5]") {
                base.changing("pred_logits") { $0.shape = [12, 5] }
            },
            .rule("integer logits", tensor: "pred_logits", reason: "must be a float tensor (F32, F16, BF16 or F64), found I64") {
                base.changing("pred_logits") { $0.dtype = "I64"; $0.shape = [2, 6, 5]; $0.bytes = Array(repeating: 0, count: 480) }
            },
            // Labels.
            .rule("label equal to C", tensor: "targets.0.labels", reason: "holds label 5, outside [0, 5) for 5 classes", index: [1]) {
                base.settingInteger("targets.0.labels", at: 1, to: 5)
            },
            .rule("negative label", tensor: "targets.1.labels", reason: "holds label -1, outside [0, 5)", index: [0]) {
                base.settingInteger("targets.1.labels", to: -1)
            },
            .rule("float labels", tensor: "targets.0.labels", reason: "must hold integer labels (I64 or I32), found F32") {
                base.changing("targets.0.labels") { $0 = .f32($0.name, [2], [1, 4]) }
            },
            .rule("boxes and labels disagreeing", tensor: "targets.1.boxes",
                     reason: "must have shape [1, 4] (one cxcywh box per label), found [2, 4]") {
                base.reshaping("targets.1.boxes", to: [2, 4])
            },
            // Boxes with negative sizes: (b, q, k) = (1, 3, 2) is flat (1·6 + 3)·4 + 2 = 38.
            .rule("predicted box with negative width", tensor: "pred_boxes", reason: "has a box with negative width -0.125", index: [1, 3, 2]) {
                base.settingFloat("pred_boxes", at: 38, to: -0.125)
            },
            .rule("target box with negative height", tensor: "targets.1.boxes", reason: "has a box with negative height -0.5", index: [0, 3]) {
                base.settingFloat("targets.1.boxes", at: 3, to: -0.5)
            },
            // Non-finite values.
            .rule("NaN in logits", tensor: "pred_logits", reason: "holds a non-finite value (nan)", index: [1, 3, 2]) {
                base.settingFloat("pred_logits", at: (1 * 6 + 3) * 5 + 2, to: .nan)
            },
            .rule("+Inf in aux boxes", tensor: "aux_outputs.0.pred_boxes", reason: "holds a non-finite value (inf)", index: [0, 5, 1]) {
                base.settingFloat("aux_outputs.0.pred_boxes", at: 5 * 4 + 1, to: .infinity)
            },
            .rule("-Inf in dn logits", tensor: "\(dn)pred_logits", reason: "holds a non-finite value (-inf)", index: [1, 0, 4]) {
                base.settingFloat("\(dn)pred_logits", at: (1 * 4 + 0) * 5 + 4, to: -.infinity)
            },
            .rule("NaN in target boxes", tensor: "targets.0.boxes", reason: "holds a non-finite value (nan)", index: [1, 0]) {
                base.settingFloat("targets.0.boxes", at: 4, to: .nan)
            },
            .rule("NaN in F16 interm logits", tensor: "interm_outputs.pred_logits", reason: "holds a non-finite value (nan)", index: [0, 1, 2]) {
                base.changing("interm_outputs.pred_logits") { t in
                    var values = (0..<60).map { Float($0 % 9) * 0.25 - 1 }
                    values[7] = .nan
                    t = RawTensor(name: t.name, dtype: "F16", shape: [2, 6, 5], bytes: float16Bytes(values))
                }
            },
            .rule("Inf in mask logits", tensor: "pred_masks", reason: "holds a non-finite value (inf)", index: [0, 2, 1, 3]) {
                base.settingFloat("pred_masks", at: ((0 * 6 + 2) * 4 + 1) * 4 + 3, to: .infinity)
            },
            .rule("F64 box beyond float32", tensor: "pred_boxes", reason: "F64 value 1e+300 at flat index 5 is outside the float32 range") {
                base.changing("pred_boxes") { t in
                    var values = (0..<48).map { Double($0 % 5) * 0.1 + 0.05 }
                    values[5] = 1e300
                    t = RawTensor(name: t.name, dtype: "F64", shape: [2, 6, 4], bytes: float64Bytes(values))
                }
            },
            // Denoising.
            .rule("pad_size not divisible by num_dn_group", tensor: "dn_meta.pad_size", reason: "3 is not divisible by dn_meta.num_dn_group (2)") {
                base.settingInteger("dn_meta.pad_size", to: 3)
            },
            .rule("pad_size disagreeing with the dn tensors", tensor: "\(dn)pred_logits", reason: "has 4 queries, but dn_meta.pad_size is 6") {
                base.settingInteger("dn_meta.pad_size", to: 6)
            },
            .rule("num_dn_group zero", tensor: "dn_meta.num_dn_group", reason: "must be positive, found 0") {
                base.settingInteger("dn_meta.num_dn_group", to: 0)
            },
            .rule("pad_size a float", tensor: "dn_meta.pad_size", reason: "must be an integer (I64 or I32), found F32") {
                base.changing("dn_meta.pad_size") { $0 = .f32($0.name, [], [4]) }
            },
            .rule("pad_size not a scalar", tensor: "dn_meta.pad_size", reason: "must be a scalar, found shape [2]") {
                base.changing("dn_meta.pad_size") { $0 = .i64($0.name, [2], [4, 4]) }
            },
            .rule("dn groups too small for the targets", tensor: "dn_meta.pad_size",
                     reason: "2 over 2 groups leaves 1 dn queries per group, fewer than the 2 targets of image 0") {
                var b = base.settingInteger("dn_meta.pad_size", to: 2)
                for t in b.tensors where t.name.hasPrefix(dn) {
                    b = b.reshaping(t.name, to: [2, 2, t.name.hasSuffix("logits") ? 5 : 4])
                }
                return b
            },
            // Masks.
            .rule("masks count not T_b", tensor: "targets.0.masks", reason: "holds 1 masks, but targets.0.labels has 2 targets") {
                base.changing("targets.0.masks") { $0.shape = [1, 8, 8]; $0.bytes = Array($0.bytes.prefix(64)) }
            },
            .rule("masks of one image missing", tensor: "targets.1.masks", reason: "is missing, though pred_masks is present") {
                base.removing("targets.1.masks")
            },
            .rule("pred_masks missing", tensor: "pred_masks", reason: "is missing, though targets.0.masks is present") {
                base.removing("pred_masks")
            },
            .rule("BOOL mask byte 2", tensor: "targets.1.masks", reason: "BOOL byte at flat index 5 is 2, not 0 or 1") {
                base.changing("targets.1.masks") { $0.dtype = "BOOL"; $0.bytes[5] = 2 }
            },
            .rule("masks padded beyond the limit", tensor: "targets.1.masks",
                     reason: "makes the batch's padded target masks 100000 × 100000 pixels; with 2 targets that is more than the limit of 2147483648") {
                // Image 1 without targets declares huge masks at no cost in bytes.
                base.changing("targets.1.labels") { $0 = .i64($0.name, [0], []) }
                    .changing("targets.1.boxes") { $0 = .f32($0.name, [0, 4], []) }
                    .changing("targets.1.masks") { $0 = .u8($0.name, [0, 100_000, 100_000], []) }
            },
        ]
    }()

    func testCriterionRules() throws {
        try checkAll(Self.criterionRules)
    }

    /// Shapes that cost no bytes (a zero dimension) or few, but would make the criterion's work absurd.
    func testAbsurdSizes() throws {
        let oneImage: (Int, Int, Int64) -> [RawTensor] = { queries, classes, label in
            [RawTensor(name: "pred_logits", dtype: "F32", shape: [1, queries, classes], bytes: Array(repeating: 0, count: 4 * queries * classes)),
             .f32("pred_boxes", [1, queries, 4], (0..<(4 * queries)).map { _ in 0.25 }),
             .i64("targets.0.labels", [1], [label]), .f32("targets.0.boxes", [1, 4], [0.5, 0.5, 0.2, 0.2])]
        }
        try checkAll([
            // Labels are held as 32-bit integers: this used to trap converting label 3·10^9.
            .st("2^32 classes and no queries", tensor: "pred_logits", reason: "has 4294967296 classes, more than 2^31 − 1") {
                safetensorsBytes(oneImage(0, 1 << 32, 3_000_000_000))
            },
            .st("cost matrices beyond the limit", tensor: "pred_logits",
                     reason: "32768 queries × 8193 targets × 1 matched heads need 268468224 cost-matrix entries, more than the limit of 268435456 (2^28)") {
                var t = oneImage(32768, 1, 0)
                t[2] = .i64("targets.0.labels", [8193], Array(repeating: 0, count: 8193))
                t[3] = .f32("targets.0.boxes", [8193, 4], Array(repeating: 0.25, count: 4 * 8193))
                return safetensorsBytes(t)
            },
        ])
    }

    // MARK: - .npz and .npy

    static let archives: [BadInput] = {
        let base = SmallBatch()
        let npz = base.npz
        return [
            .npz("corrupt npz member", tensor: "pred_boxes", reason: "member data is corrupt (CRC-32") {
                // The last byte of the second member's data (pred_boxes.npy) changed: its CRC no longer matches.
                let first = 30 + "pred_logits.npy".count + npyBytes(base["pred_logits"]).count
                let last = first + 30 + "pred_boxes.npy".count + npyBytes(base["pred_boxes"]).count - 1
                var b = npz
                b[last] ^= 0xFF
                return b
            },
            .npz("zip that is not an npz", tensor: "readme.txt", reason: "not a .npy array (bad magic: it must start with \\x93NUMPY)") {
                zipBytes([("readme.txt", Array("This archive holds notes, not arrays.\n".utf8))])
            },
            .npz("truncated npz", tensor: nil, reason: "not a zip archive or truncated: no end-of-central-directory record") {
                Array(npz.dropLast(10))
            },
            .npz("not a zip at all", tensor: nil, reason: "not a zip archive (an .npz file starts with the bytes 'PK\\x03\\x04')") {
                Array("just some text".utf8)
            },
            .npz("npz member in Fortran order", tensor: "pred_logits", reason: "the array is stored in Fortran order, which is not supported") {
                zipBytes(base.tensors.map { ($0.name + ".npy", npyBytes($0, fortran: $0.name == "pred_logits")) })
            },
            .npz("npz member of object dtype", tensor: "targets.0.labels", reason: "object arrays (dtype '|O') are not supported") {
                zipBytes(base.tensors.map { t in
                    (t.name + ".npy", t.name == "targets.0.labels"
                        ? npyBytes(header: "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", data: Array(repeating: 0, count: 16))
                        : npyBytes(t))
                })
            },
            .npz("npz with NaN in boxes", tensor: "pred_boxes", reason: "holds a non-finite value (nan)", index: [0, 0, 0]) {
                base.settingFloat("pred_boxes", at: 0, to: .nan).npz
            },
            BadInput("a .npy given to eval", file: "pred_logits.npy", tensor: nil,
                     reason: "is a single .npy array; the criterion needs a .safetensors or .npz file holding the named tensors") {
                try write(npyBytes(base["pred_logits"]), to: $0)
            },
            BadInput("a .npy in Fortran order", file: "fortran.npy", tensor: "fortran", reason: "stored in Fortran order") {
                try write(npyBytes(base["pred_logits"], fortran: true), to: $0)
            },
        ]
    }()

    func testArchives() throws {
        try checkAll(Self.archives)
    }

    // MARK: - The synthetic W0 example, damaged

    /// The header of a safetensors file: tensor name → (shape, data start in the file).
    private func layout(_ bytes: [UInt8]) throws -> [String: (shape: [Int], start: Int, end: Int)] {
        let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any])
        var out: [String: (shape: [Int], start: Int, end: Int)] = [:]
        for (name, value) in header where name != "__metadata__" {
            let entry = try XCTUnwrap(value as? [String: Any])
            let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int])
            out[name] = (try XCTUnwrap(entry["shape"] as? [Int]), 8 + length + offsets[0], 8 + length + offsets[1])
        }
        return out
    }

    func testDamagedSyntheticExample() throws {
        let example = folder.appendingPathComponent("example.safetensors")
        let written = try CLIRun.run(["eval", "--write-example", example.path], in: folder)
        XCTAssertEqual(written.status, 0, written.standardError)
        let bytes = [UInt8](try Data(contentsOf: example))
        let tensors = try layout(bytes)
        let target = try XCTUnwrap(tensors["aux_outputs.3.pred_logits"])
        XCTAssertEqual(target.shape, [2, 900, 91])
        // A NaN from a diverging run at (1, 456, 78).
        var nan = bytes
        let flat = (1 * 900 + 456) * 91 + 78
        nan.replaceSubrange((target.start + 4 * flat)..<(target.start + 4 * flat + 4), with: float32Bytes([.nan]))
        try write(nan, to: folder.appendingPathComponent("nan.safetensors"))
        try check(BadInput("NaN in the W0 example", file: "nan.safetensors", tensor: "aux_outputs.3.pred_logits",
                           reason: "holds a non-finite value (nan)", index: [1, 456, 78]) { _ in })
        // A download cut off at 3 MB: the first tensor (in the header's order) that ends beyond the cut is named.
        let cut = 3_000_000
        let names = try headerOrder(bytes)
        let beyond = try XCTUnwrap(names.first { tensors[$0]!.end > cut })
        try write(Array(bytes.prefix(cut)), to: folder.appendingPathComponent("cut.safetensors"))
        try check(BadInput("W0 example cut at 3 MB", file: "cut.safetensors", tensor: beyond,
                           reason: "go beyond the end of the data buffer") { _ in })
    }

    /// The tensor names in the order the header lists them.
    private func headerOrder(_ bytes: [UInt8]) throws -> [String] {
        let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let text = String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
        // Every key followed by {"dtype": is a tensor (names hold no quotes here).
        let parts = text.components(separatedBy: "\":{\"dtype\"")
        return parts.dropLast().map { part in String(part[part.index(after: part.lastIndex(of: "\"")!)...]) }
    }

    // MARK: - Several files

    /// Every file is validated before anything is printed: one bad file among good ones gives
    /// exit 1 and nothing on standard output.
    func testOneBadFileAmongGoodOnesPrintsNothing() throws {
        let good = folder.appendingPathComponent("good.safetensors"), bad = folder.appendingPathComponent("bad.npz")
        try write(SmallBatch().safetensors, to: good)
        try write(SmallBatch().settingInteger("targets.1.labels", to: 9).npz, to: bad)
        for flags in [["--json"], []] {
            let run = try CLIRun.run(["eval"] + flags + [good.path, bad.path, good.path], in: folder)
            checkFailure(run, path: bad.path, tensor: "targets.1.labels", reason: "holds label 9, outside [0, 5)", index: [0],
                         title: "one bad file of three \(flags)")
        }
        // The control: the good files alone give one JSON line each.
        let run = try CLIRun.run(["eval", "--json", good.path, good.path], in: folder)
        XCTAssertEqual(run.status, 0, run.standardError)
        XCTAssertEqual(run.standardOutput.split(separator: "\n").count, 2)
    }

    /// The corpus is as large as the issue asks (every case above is one bad input).
    func testCorpusSize() {
        // 8 unreadable-file cases in testFilesThatCannotBeRead, 2 in testAbsurdSizes, 2 in testDamagedSyntheticExample, 1 in the several-files test.
        let count = Self.structure.count + Self.criterionRules.count + Self.archives.count + 8 + 2 + 2 + 1
        XCTAssertGreaterThanOrEqual(count, 30)
        print("hostile-input corpus: \(count) bad inputs")
    }
}
