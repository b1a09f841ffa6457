import Foundation

extension FileHandle {
    /// Writes a string as UTF-8.
    func write(_ string: String) { write(Data(string.utf8)) }
}
