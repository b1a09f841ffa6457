// libFuzzer entry point for the tensor file readers and the criterion's input validation.
// Built by scripts/fuzz together with Sources/TensorIO (and ZIPFoundation) and
// Sources/Criterion/Input/{Loading,Model}.swift: see Fuzz/README.md.
import TensorIO

/// Every input is read as a tensor file held in memory (`TensorFile.open(bytes:name:)` picks the
/// format by magic bytes: `PK` → .npz, `\x93NUMPY` → .npy, anything else → safetensors); the first
/// byte also chooses the name, so the name-based paths (an .npz or .npy that lacks its magic) are
/// reached too. Every tensor is then converted to every type (reading all of its bytes), and a
/// readable file goes through the criterion's validation (DESIGN §3). Errors are the expected
/// outcome; a crash, a trap, an out-of-bounds access or a leak is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTensorFile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    let names = ["fuzz.safetensors", "fuzz.npz", "fuzz.npy", "fuzz"]
    let name = names[Int(bytes.first ?? 0) % names.count]
    do {
        let file = try TensorFile.open(bytes: bytes, name: name)
        for tensorName in file.names {
            guard let view = file[tensorName] else { continue }
            precondition(view.bytes.count == view.count * view.dtype.size, "view of \(tensorName) has the wrong byte count")
            if let buffer = try? view.float32() {
                var sum: Float = 0
                for x in buffer.buffer { sum += x }  // reads every element
                _ = sum
            }
            _ = try? view.float64Array()
            _ = try? view.int64Array()
            _ = try? view.int64Scalar()
        }
        _ = try? file.tensor("pred_logits")
        if let input = try? CriterionInput.make(from: file) {
            // Validated: every head's values are in bounds and finite (spot-check the corners).
            for head in [input.final] + input.aux + (input.interm.map { [$0] } ?? []) + input.enc {
                let l = head.logits
                if l.batch > 0 && l.queries > 0 && l.width > 0 {
                    precondition(l[l.batch - 1, l.queries - 1, l.width - 1].isFinite, "validated logits hold a non-finite value")
                }
            }
            precondition(input.targets.labels.allSatisfy { $0.allSatisfy { $0 >= 0 && Int($0) < input.classes } }, "a label escaped validation")
        }
    } catch {
        _ = "\(error)"  // the message is built (as the CLI builds it) but not printed
    }
    return 0
}
