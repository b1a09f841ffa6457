import Foundation

extension GeneratedSources {
    /// Writes the two sources to `folder`, and the header and module map to `folder/include`,
    /// leaving files whose content is already right untouched.
    public func write(to folder: URL) throws {
        let include = folder.appendingPathComponent("include")
        try FileManager.default.createDirectory(at: include, withIntermediateDirectories: true)
        try Self.writeIfChanged(source, to: folder.appendingPathComponent(Self.sourceName))
        try Self.writeIfChanged(wideSource, to: folder.appendingPathComponent(Self.wideSourceName))
        try Self.writeIfChanged(header, to: include.appendingPathComponent(Self.headerName))
        try Self.writeIfChanged(moduleMap, to: include.appendingPathComponent(Self.moduleMapName))
    }

    private static func writeIfChanged(_ text: String, to url: URL) throws {
        let data = Data(text.utf8)
        if let existing = try? Data(contentsOf: url), existing == data { return }
        try data.write(to: url, options: .atomic)
    }
}
