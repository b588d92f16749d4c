//! The list of loaded modules (path, load bias, GNU build id) for the output file.
//!
//! Read with `dl_iterate_phdr` on the writer thread only (it takes the loader lock, so never on
//! the hook path). `dlpi_adds` tells whether anything was loaded since the last listing.

use std::ffi::{CStr, c_void};

/// One loaded module.
pub(crate) struct Module {
    pub(crate) base: u64,
    pub(crate) build_id: Vec<u8>,
    pub(crate) path: Vec<u8>,
}

/// All modules plus the loader's "objects ever added" counter.
pub(crate) struct Listing {
    pub(crate) adds: u64,
    pub(crate) modules: Vec<Module>,
}

const NT_GNU_BUILD_ID: u32 = 3;

/// Lists the loaded modules.
pub(crate) fn list() -> Listing {
    let mut listing = Listing {
        adds: 0,
        modules: Vec::new(),
    };
    // SAFETY: the callback only reads the `dl_phdr_info` it is given, during the call.
    unsafe { libc::dl_iterate_phdr(Some(callback), (&mut listing as *mut Listing).cast()) };
    listing
}

unsafe extern "C" fn callback(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> libc::c_int {
    // SAFETY: `data` is the `Listing` passed by `list`; `info` is valid for this call.
    let (listing, info) = unsafe { (&mut *data.cast::<Listing>(), &*info) };
    listing.adds = info.dlpi_adds;
    let path = if info.dlpi_name.is_null() {
        Vec::new()
    } else {
        // SAFETY: the loader's module name is a NUL-terminated string.
        unsafe { CStr::from_ptr(info.dlpi_name) }.to_bytes().to_vec()
    };
    let mut build_id = Vec::new();
    for i in 0..info.dlpi_phnum as usize {
        // SAFETY: `dlpi_phdr` points to `dlpi_phnum` program headers.
        let ph = unsafe { &*info.dlpi_phdr.add(i) };
        if ph.p_type == libc::PT_NOTE {
            let start = info.dlpi_addr.wrapping_add(ph.p_vaddr) as *const u8;
            // SAFETY: a PT_NOTE segment of a loaded module is mapped readable (it lies in a
            // PT_LOAD segment) for `p_memsz` bytes.
            let notes = unsafe { std::slice::from_raw_parts(start, ph.p_memsz as usize) };
            if let Some(id) = find_build_id(notes) {
                build_id = id.to_vec();
                break;
            }
        }
    }
    listing.modules.push(Module {
        base: info.dlpi_addr,
        build_id,
        path,
    });
    0
}

/// Finds the GNU build id in a note segment (namesz, descsz, type, name, desc; 4-aligned).
fn find_build_id(mut notes: &[u8]) -> Option<&[u8]> {
    let word = |b: &[u8], i: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
    };
    let align4 = |n: usize| (n + 3) & !3;
    while notes.len() >= 12 {
        let namesz = word(notes, 0)? as usize;
        let descsz = word(notes, 4)? as usize;
        let kind = word(notes, 8)?;
        let name_end = 12 + align4(namesz);
        let desc_end = name_end + align4(descsz);
        if kind == NT_GNU_BUILD_ID && notes.get(12..12 + namesz) == Some(b"GNU\0") {
            return notes.get(name_end..name_end + descsz);
        }
        notes = notes.get(desc_end..)?;
    }
    None
}
