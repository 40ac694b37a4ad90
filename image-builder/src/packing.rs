//! From a checked system and its built files to an image, and back.

use crate::builder::Artifacts;
use crate::image::{Image, ImageError, Section, SectionKind};
use crate::manifest::{self, ManifestError, Sources, System};
use std::collections::BTreeMap;
use std::path::Path;

/// Bytes the kernel needs beside each program's image, heap and stack (its start
/// block, rounded up generously).
pub const START_BLOCK_RESERVE: u64 = 4096;

/// What a board boots: the kernel executable and program ELFs, in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payloads {
    /// The cluster kernel executable.
    pub kernel: Vec<u8>,
    /// Program ELFs by name.
    pub programs: BTreeMap<String, Vec<u8>>,
    /// What a fresh disk's root file system holds beside the programs, if the
    /// system has one.
    pub root: Option<RootContents>,
}

/// The root file system's files and users (the image's `rootfs` section, as JSON;
/// empty when the system has none).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RootContents {
    /// (absolute path, permission bits, bytes).
    pub files: Vec<(String, u16, Vec<u8>)>,
    /// (name, id) of each user beside root.
    pub users: Vec<(String, u32)>,
}

impl RootContents {
    /// Reads the files `plan` names from the host.
    pub fn read(plan: &manifest::RootPlan) -> Result<RootContents, String> {
        let mut contents = RootContents {
            files: Vec::new(),
            users: plan.users.clone(),
        };
        for (position, (path, source, mode)) in plan.files.iter().enumerate() {
            let bytes = std::fs::read(source).map_err(|error| {
                format!(
                    "root.files[{position}].source: {}: {error}",
                    source.display()
                )
            })?;
            contents.files.push((path.clone(), *mode, bytes));
        }
        Ok(contents)
    }
}

/// Why an image cannot be booted.
#[derive(Debug)]
pub enum UnpackError {
    /// The bytes are not a sound image.
    Image(ImageError),
    /// The manifest inside it does not check.
    Manifest(ManifestError),
    /// A section's text is not UTF-8.
    Text(&'static str),
    /// The root file system section does not decode.
    Root(String),
}

impl std::fmt::Display for UnpackError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnpackError::Image(error) => write!(formatter, "{error}"),
            UnpackError::Manifest(error) => write!(formatter, "{error}"),
            UnpackError::Text(section) => write!(formatter, "the image's {section} is not UTF-8"),
            UnpackError::Root(error) => {
                write!(formatter, "the image's root file system: {error}")
            }
        }
    }
}

impl std::error::Error for UnpackError {}

/// Reads the built files of `artifacts`.
pub fn read_payloads(artifacts: &Artifacts) -> std::io::Result<Payloads> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|error| {
            std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
        })
    };
    Ok(Payloads {
        kernel: read(&artifacts.kernel)?,
        programs: artifacts
            .programs
            .iter()
            .map(|(name, path)| Ok((name.clone(), read(path)?)))
            .collect::<std::io::Result<_>>()?,
        root: None,
    })
}

/// Checks that every cluster's programs fit its SRAM: each program's image (placed
/// at a 64 KiB-aligned base), heap, stack and start block. A program that is not a
/// Nanvix program is reported here too, naming the manifest field.
pub fn check_budgets(system: &System, payloads: &Payloads) -> Result<(), ManifestError> {
    let fail = |field: String, reason: String| ManifestError {
        path: system.path.clone(),
        field,
        reason,
    };
    for cluster in &system.clusters {
        let sram = system.board.clusters[cluster.index].sram_bytes;
        let mut needed = 0u64;
        for (position, program) in cluster.programs.iter().enumerate() {
            let field = format!("clusters.{}.programs[{position}]", cluster.name);
            let Some(elf) = payloads.programs.get(&program.name) else {
                return Err(fail(
                    format!("{field}.name"),
                    format!("program `{}` was not built", program.name),
                ));
            };
            let image = nanvix_microkernel::loader::inspect(elf).map_err(|error| {
                fail(
                    format!("{field}.name"),
                    format!("`{}` is not a Nanvix program: {error}", program.name),
                )
            })?;
            let image_bytes =
                (image.span as u64).next_multiple_of(nanvix_abi::PROGRAM_ALIGNMENT as u64);
            needed += image_bytes + program.heap_bytes + program.stack_bytes + START_BLOCK_RESERVE;
            if needed > sram {
                return Err(fail(
                    field,
                    format!(
                        "the programs of `{}` need {needed} bytes (this one: image {image_bytes} + heap {} + \
                         stack {} + start block {START_BLOCK_RESERVE}) but it has {sram} bytes of SRAM",
                        cluster.name, program.heap_bytes, program.stack_bytes
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The image of `system` with `payloads`; `revision` names the build.
pub fn pack(system: &System, payloads: &Payloads, revision: &str) -> Image {
    let mut sections = vec![
        Section::new(
            SectionKind::Manifest,
            "",
            system.manifest_text.clone().into_bytes(),
        ),
        Section::new(
            SectionKind::Board,
            &system.board.name,
            system.board_text.clone().into_bytes(),
        ),
        Section::new(
            SectionKind::Kernel,
            system.platform.name(),
            payloads.kernel.clone(),
        ),
    ];
    for name in system.program_names() {
        if let Some(elf) = payloads.programs.get(&name) {
            sections.push(Section::new(SectionKind::Program, &name, elf.clone()));
        }
    }
    let root = payloads
        .root
        .as_ref()
        .map(|root| serde_json::to_vec(root).unwrap_or_default())
        .unwrap_or_default();
    sections.push(Section::new(SectionKind::RootFileSystem, "", root));
    sections.push(Section::new(
        SectionKind::Revision,
        "",
        revision.as_bytes().to_vec(),
    ));
    Image { sections }
}

/// The system and payloads inside an image read from `path`.
pub fn unpack(path: &Path, image: &Image) -> Result<(System, Payloads), UnpackError> {
    let text = |kind: SectionKind, what: &'static str| -> Result<String, UnpackError> {
        let section = image
            .find(kind, None)
            .ok_or(UnpackError::Image(ImageError::MissingSection(what)))?;
        String::from_utf8(section.data.clone()).map_err(|_| UnpackError::Text(what))
    };
    let manifest_text = text(SectionKind::Manifest, "manifest")?;
    let programs: BTreeMap<String, Vec<u8>> = image
        .all(SectionKind::Program)
        .map(|section| (section.name.clone(), section.data.clone()))
        .collect();
    let names: Vec<String> = programs.keys().cloned().collect();
    let board_text = |name: &str| -> Result<String, String> {
        let section = image
            .find(SectionKind::Board, Some(name))
            .ok_or_else(|| format!("the image holds no board `{name}`"))?;
        String::from_utf8(section.data.clone())
            .map_err(|_| format!("the image's board `{name}` is not UTF-8"))
    };
    let sources = Sources {
        board_text: &board_text,
        programs: &names,
        programs_origin: "programs in the image",
    };
    let system = manifest::parse(path, &manifest_text, &sources).map_err(UnpackError::Manifest)?;
    let kernel = image
        .find(SectionKind::Kernel, Some(system.platform.name()))
        .ok_or(UnpackError::Image(ImageError::MissingSection(
            match system.platform {
                manifest::Platform::Hosted => "hosted kernel",
                manifest::Platform::QemuX86_64 => "qemu-x86_64 kernel",
            },
        )))?
        .data
        .clone();
    let root = match image.find(SectionKind::RootFileSystem, None) {
        Some(section) if !section.data.is_empty() => Some(
            serde_json::from_slice(&section.data)
                .map_err(|error| UnpackError::Root(error.to_string()))?,
        ),
        _ => None,
    };
    Ok((
        system,
        Payloads {
            kernel,
            programs,
            root,
        },
    ))
}

/// The build revision of the workspace: `git describe --always --dirty`, or
/// `unknown` outside a git checkout.
pub fn revision(root: &Path) -> String {
    std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system() -> System {
        let root = crate::workspace_root();
        manifest::load(&root, &root.join("systems/tiny.toml")).unwrap()
    }

    fn payloads() -> Payloads {
        Payloads {
            kernel: b"\x7fELF kernel".to_vec(),
            programs: [("hello".to_string(), b"\x7fELF hello".to_vec())].into(),
            root: None,
        }
    }

    #[test]
    fn a_packed_system_unpacks_to_itself() {
        let system = system();
        let image = pack(&system, &payloads(), "test");
        let decoded = Image::decode(&image.encode()).unwrap();
        let (unpacked, unpacked_payloads) = unpack(Path::new("tiny.img"), &decoded).unwrap();
        assert_eq!(unpacked_payloads, payloads());
        assert_eq!(unpacked.board, system.board);
        assert_eq!(unpacked.boot, system.boot);
        assert_eq!(unpacked.manifest_text, system.manifest_text);
        assert_eq!(
            unpacked
                .clusters
                .iter()
                .map(|cluster| &cluster.programs)
                .collect::<Vec<_>>(),
            system
                .clusters
                .iter()
                .map(|cluster| &cluster.programs)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            decoded.find(SectionKind::Revision, None).unwrap().data,
            b"test"
        );
    }

    #[test]
    fn an_image_without_its_programs_or_kernel_is_refused() {
        let system = system();
        let mut image = pack(&system, &payloads(), "test");
        image
            .sections
            .retain(|section| section.kind != SectionKind::Program);
        let error = unpack(Path::new("x.img"), &image).unwrap_err().to_string();
        assert!(
            error.contains("no program `hello` (programs in the image: )"),
            "{error}"
        );
        let mut image = pack(&system, &payloads(), "test");
        image
            .sections
            .retain(|section| section.kind != SectionKind::Kernel);
        assert!(
            unpack(Path::new("x.img"), &image)
                .unwrap_err()
                .to_string()
                .contains("no hosted kernel section")
        );
    }

    #[test]
    fn a_system_on_machines_packs_its_kernel_under_its_platform() {
        let root = crate::workspace_root();
        let system = manifest::load(
            &root,
            &root.join("image-builder/tests/systems/machines.toml"),
        )
        .unwrap();
        assert_eq!(system.platform, manifest::Platform::QemuX86_64);
        let image = pack(&system, &payloads(), "test");
        assert!(
            image
                .find(SectionKind::Kernel, Some("qemu-x86_64"))
                .is_some()
        );
        assert!(image.find(SectionKind::Kernel, Some("hosted")).is_none());
        let (unpacked, payloads) = unpack(Path::new("x.img"), &image).unwrap();
        assert_eq!(unpacked.platform, manifest::Platform::QemuX86_64);
        assert_eq!(payloads.kernel, self::payloads().kernel);
        let mut image = image;
        image
            .sections
            .retain(|section| section.kind != SectionKind::Kernel);
        let error = unpack(Path::new("x.img"), &image).unwrap_err().to_string();
        assert!(error.contains("no qemu-x86_64 kernel section"), "{error}");
    }

    #[test]
    fn programs_that_are_not_programs_fail_the_budget_check_by_name() {
        let error = check_budgets(&system(), &payloads()).unwrap_err();
        assert_eq!(error.field, "clusters.io0.programs[0].name");
        assert!(error.reason.contains("not a Nanvix program"), "{error}");
    }
}
