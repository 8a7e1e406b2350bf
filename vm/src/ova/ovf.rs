//! The OVF 1.0 descriptor of the appliance: one virtual system with the disk on a SATA (AHCI)
//! controller, a USB controller for the tablet, and VirtualBox's own section (EFI firmware,
//! VMSVGA graphics, USB tablet, no network adapter unless asked) that its importer reads.

/// What the descriptor describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Appliance {
    /// The virtual system's name (also VirtualBox's machine name).
    pub name: String,
    /// The disk file inside the OVA (a streamOptimized VMDK).
    pub disk_file: String,
    /// The disk file's size in bytes.
    pub disk_file_size: u64,
    /// The disk's virtual size in bytes (what the guest sees).
    pub capacity: u64,
    /// UUIDs (`8-4-4-4-12` hex) of the disk and the machine, derived from the content so the
    /// descriptor is the same for the same disk.
    pub disk_uuid: String,
    pub machine_uuid: String,
    pub cpus: u32,
    pub memory_mb: u32,
    pub vram_mb: u32,
    /// A NAT network adapter; Exosphere's appliance has none by default.
    pub network: bool,
}

/// The `.ovf` text.
pub fn descriptor(a: &Appliance) -> String {
    let name = escape(&a.name);
    let disk_file = escape(&a.disk_file);
    let (network_section, network_item, network_vbox) = if a.network {
        (
            "  <NetworkSection>\n    <Info>The networks the virtual machine uses</Info>\n    \
             <Network ovf:name=\"NAT\">\n      <Description>Network address translation</Description>\n    \
             </Network>\n  </NetworkSection>\n",
            "      <Item>\n        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>\n        \
             <rasd:Caption>Ethernet adapter on 'NAT'</rasd:Caption>\n        <rasd:Connection>NAT</rasd:Connection>\n        \
             <rasd:ElementName>Ethernet adapter on 'NAT'</rasd:ElementName>\n        \
             <rasd:InstanceID>6</rasd:InstanceID>\n        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>\n        \
             <rasd:ResourceType>10</rasd:ResourceType>\n      </Item>\n",
            "        <Network>\n          <Adapter slot=\"0\" enabled=\"true\" type=\"82540EM\">\n            \
             <NAT/>\n          </Adapter>\n        </Network>\n",
        )
    } else {
        ("", "", "")
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:vbox="http://www.virtualbox.org/ovf/machine">
  <References>
    <File ovf:id="file1" ovf:href="{disk_file}" ovf:size="{disk_file_size}"/>
  </References>
  <DiskSection>
    <Info>The virtual disks of the appliance</Info>
    <Disk ovf:capacity="{capacity}" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" vbox:uuid="{disk_uuid}"/>
  </DiskSection>
{network_section}  <VirtualSystem ovf:id="{name}">
    <Info>Exosphere: a capability-secure desktop session booting straight into Nexquelium</Info>
    <ProductSection>
      <Info>What the appliance is</Info>
      <Product>Exosphere</Product>
      <Vendor>Exosphere</Vendor>
      <Version>{version}</Version>
    </ProductSection>
    <OperatingSystemSection ovf:id="101">
      <Info>The kind of installed guest operating system</Info>
      <Description>Linux 64-Bit</Description>
      <vbox:OSType ovf:required="false">Linux_64</vbox:OSType>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements for a virtual machine</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{name}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:Caption>{cpus} virtual CPU</rasd:Caption>
        <rasd:Description>Number of virtual CPUs</rasd:Description>
        <rasd:ElementName>{cpus} virtual CPU</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>{cpus}</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits>
        <rasd:Caption>{memory_mb} MB of memory</rasd:Caption>
        <rasd:Description>Memory Size</rasd:Description>
        <rasd:ElementName>{memory_mb} MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>{memory_mb}</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Caption>sataController0</rasd:Caption>
        <rasd:Description>SATA Controller</rasd:Description>
        <rasd:ElementName>sataController0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>AHCI</rasd:ResourceSubType>
        <rasd:ResourceType>20</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:Caption>disk1</rasd:Caption>
        <rasd:Description>Disk Image</rasd:Description>
        <rasd:ElementName>disk1</rasd:ElementName>
        <rasd:HostResource>/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Caption>usb</rasd:Caption>
        <rasd:Description>USB Controller</rasd:Description>
        <rasd:ElementName>usb</rasd:ElementName>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceType>23</rasd:ResourceType>
      </Item>
{network_item}    </VirtualHardwareSection>
    <vbox:Machine ovf:required="false" version="1.16-linux" uuid="{{{machine_uuid}}}" name="{name}" OSType="Linux_64">
      <ovf:Info>VirtualBox's settings for the machine: EFI, VMSVGA, a USB tablet</ovf:Info>
      <Hardware>
        <CPU count="{cpus}">
          <PAE enabled="true"/>
          <LongMode enabled="true"/>
        </CPU>
        <Memory RAMSize="{memory_mb}"/>
        <Firmware type="EFI"/>
        <HID Pointing="USBTablet" Keyboard="PS2Keyboard"/>
        <Display controller="VMSVGA" VRAMSize="{vram_mb}"/>
        <USB>
          <Controllers>
            <Controller name="OHCI" type="OHCI"/>
            <Controller name="EHCI" type="EHCI"/>
          </Controllers>
        </USB>
{network_vbox}        <AudioAdapter enabled="false"/>
        <RTC localOrUTC="UTC"/>
      </Hardware>
      <StorageControllers>
        <StorageController name="SATA" type="AHCI" PortCount="1" useHostIOCache="false" Bootable="true">
          <AttachedDevice type="HardDisk" hotpluggable="false" port="0" device="0">
            <Image uuid="{{{disk_uuid}}}"/>
          </AttachedDevice>
        </StorageController>
      </StorageControllers>
    </vbox:Machine>
  </VirtualSystem>
</Envelope>
"#,
        disk_file_size = a.disk_file_size,
        capacity = a.capacity,
        disk_uuid = a.disk_uuid,
        machine_uuid = a.machine_uuid,
        cpus = a.cpus,
        memory_mb = a.memory_mb,
        vram_mb = a.vram_mb,
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// A UUID-shaped string from the first 16 bytes of a digest.
pub fn uuid_from(digest: &[u8]) -> String {
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appliance(network: bool) -> Appliance {
        Appliance {
            name: "Exosphere & co".into(),
            disk_file: "disk1.vmdk".into(),
            disk_file_size: 1234,
            capacity: 1 << 30,
            disk_uuid: uuid_from(&[0xab; 32]),
            machine_uuid: uuid_from(&[0x01; 32]),
            cpus: 2,
            memory_mb: 2048,
            vram_mb: 64,
            network,
        }
    }

    /// xmllint (libxml2) says the text is well-formed XML.
    fn well_formed(xml: &str) {
        let path = std::env::temp_dir().join(format!("exo-vm-ovf-{}.ovf", std::process::id()));
        std::fs::write(&path, xml).unwrap();
        let out = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg(&path)
            .output()
            .expect("xmllint (Debian's libxml2-utils; ./x installs it)");
        let _ = std::fs::remove_file(&path);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn the_descriptor_is_well_formed_and_has_no_network_unless_asked() {
        let plain = descriptor(&appliance(false));
        well_formed(&plain);
        assert!(plain.contains("ovf:capacity=\"1073741824\""));
        assert!(plain.contains("<Firmware type=\"EFI\"/>"));
        assert!(plain.contains("controller=\"VMSVGA\""));
        assert!(plain.contains("Pointing=\"USBTablet\""));
        assert!(plain.contains("Exosphere &amp; co"));
        assert!(!plain.contains("NetworkSection") && !plain.contains("<rasd:ResourceType>10<"));
        let with_net = descriptor(&appliance(true));
        well_formed(&with_net);
        assert!(with_net.contains("<NetworkSection>") && with_net.contains("<NAT/>"));
    }

    #[test]
    fn uuids_have_the_usual_shape() {
        assert_eq!(uuid_from(&[0xab; 32]), "abababab-abab-abab-abab-abababababab");
    }
}
