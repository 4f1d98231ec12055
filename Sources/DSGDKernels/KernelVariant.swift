import DSGDKernelTable
import DSGDKernelsCPU
import DSGDKernelsPortable
#if canImport(DSGDKernelsAVX2)
import DSGDKernelsAVX2
#endif
#if canImport(DSGDKernelsAVX512)
import DSGDKernelsAVX512
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The builds of the kernels (SGEMM, the fused affine loss and gradient, their vector math): each
/// is a target of its own compiled for its own CPU (see Package.swift and VariantConfig.swift).
/// One is chosen once per process (`active`): the fastest this CPU and OS can run, unless the
/// environment variable `DSGD_KERNEL` forces one.
///
/// | variant    | vector          | SGEMM tile | target CPU (x86-64)   | runs on                               |
/// |------------|-----------------|------------|-----------------------|---------------------------------------|
/// | `avx512`   | `SIMD16<Float>` | 8 x 32     | `skylake-avx512`      | AVX-512 F/CD/BW/DQ/VL, ZMM state on   |
/// | `avx2`     | `SIMD8<Float>`  | 6 x 16     | `haswell`             | AVX2 + FMA (+ BMI1/2, F16C, ...)      |
/// | `portable` | `SIMD4<Float>`  | 6 x 8      | none (the baseline)   | any CPU (on ARM the only one built)   |
public enum KernelVariant: String, CaseIterable, Sendable, CustomStringConvertible {
    case avx512, avx2, portable

    /// The environment variable that forces a variant: `avx512`, `avx2`, `portable` (or `auto`,
    /// or empty: the fastest supported).
    public static let environmentVariable = "DSGD_KERNEL"

    public var description: String { rawValue }

    /// The variant's function table, if this build has the variant (x86-64: all three; other
    /// architectures: `portable` only).
    public var table: KernelTable? {
        switch self {
        case .avx512:
            #if canImport(DSGDKernelsAVX512)
            return DSGDKernelsAVX512.Variant.table
            #else
            return nil
            #endif
        case .avx2:
            #if canImport(DSGDKernelsAVX2)
            return DSGDKernelsAVX2.Variant.table
            #else
            return nil
            #endif
        case .portable:
            return DSGDKernelsPortable.Variant.table
        }
    }

    /// Whether this build has the variant.
    public var isBuilt: Bool { table != nil }

    /// Whether this CPU and OS can run the variant's instructions (CPUID and XGETBV).
    public var cpuCanRun: Bool {
        switch self {
        case .avx512: return dsgd_kernels_cpu_runs_avx512() != 0
        case .avx2: return dsgd_kernels_cpu_runs_avx2() != 0
        case .portable: return true
        }
    }

    /// Whether the variant can be used here: built, and runnable on this CPU.
    public var isSupported: Bool { isBuilt && cpuCanRun }

    /// What the variant needs from the CPU, for messages.
    var requirement: String {
        switch self {
        case .avx512: return "AVX-512 F, CD, BW, DQ and VL with the OS saving ZMM state"
        case .avx2: return "AVX2 and FMA"
        case .portable: return "nothing"
        }
    }

    /// The fastest supported variant.
    public static var fastestSupported: KernelVariant { allCases.first { $0.isSupported } ?? .portable }

    /// The variant a `DSGD_KERNEL` value asks for: nil, empty or `auto` give the fastest of
    /// `supported`; a variant's name (any case, surrounding blanks ignored) gives that variant if
    /// it is supported; anything else is an error (`KernelSelectionError`).
    public static func select(forced value: String?,
                              isSupported: (KernelVariant) -> Bool = { $0.isSupported }) -> Result<KernelVariant, KernelSelectionError> {
        let trimmed = (value ?? "").trimmingBlanks.lowercased()
        let supported = allCases.filter(isSupported)
        if trimmed.isEmpty || trimmed == "auto" { return .success(supported.first ?? .portable) }
        guard let variant = KernelVariant(rawValue: trimmed) else {
            return .failure(KernelSelectionError(value: value ?? "", problem: .unknown))
        }
        guard isSupported(variant) else {
            return .failure(KernelSelectionError(value: value ?? "", problem: .unsupported(variant, alternatives: supported)))
        }
        return .success(variant)
    }

    /// The selection made for this process from `DSGD_KERNEL`, once.
    public static let selection: Result<KernelVariant, KernelSelectionError> = {
        let value = getenv(environmentVariable).map { String(cString: $0) }
        return select(forced: value)
    }()

    /// The variant this process runs. An invalid `DSGD_KERNEL` stops the process with the
    /// selection error (`dsgd` checks `selection` first and prints it as a one-line error).
    public static var active: KernelVariant {
        switch selection {
        case .success(let variant): return variant
        case .failure(let error): fatalError(error.description)
        }
    }
}

/// Why a `DSGD_KERNEL` value cannot be honoured.
public struct KernelSelectionError: Error, Equatable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        /// Not the name of a variant.
        case unknown
        /// A variant this build or CPU cannot run; `alternatives`: those it can.
        case unsupported(KernelVariant, alternatives: [KernelVariant])
    }

    /// The value of `DSGD_KERNEL`, as given.
    public let value: String
    public let problem: Problem

    public var description: String {
        let variable = KernelVariant.environmentVariable
        switch problem {
        case .unknown:
            return "\(variable)=\(value) is not a kernel variant (use avx512, avx2, portable or auto)"
        case .unsupported(let variant, let alternatives):
            let reason = variant.isBuilt
                ? "this CPU cannot run the \(variant) kernels (they need \(variant.requirement))"
                : "this build has no \(variant) kernels (they exist on x86-64 only)"
            return "\(variable)=\(value): \(reason); use \(alternatives.map(\.rawValue).joined(separator: " or "))"
        }
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines.
    var trimmingBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
