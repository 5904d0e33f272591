"""Makes the scan benchmark's scene with the real Blender: a shot with 5,000 image
references (5,000 small files) that links one object from each of 50 libraries, each
library's object using a texture of its own.

    blender -b --factory-startup --python tools/bench/make_scan_scene.py -- DIR
"""
import os
import shutil
import sys

import bpy

out = os.path.abspath(sys.argv[sys.argv.index("--") + 1])
images = 5000
libraries = 50


def reset():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.preferences.filepaths.save_version = 0


def textured_object(name, texture_path):
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    ob = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(ob)
    mat = bpy.data.materials.new(name + " material")
    mat.use_nodes = True
    node = mat.node_tree.nodes.new("ShaderNodeTexImage")
    node.image = bpy.data.images.new(name + " texture", 4, 4)
    node.image.filepath_raw = texture_path
    node.image.source = "FILE"
    mesh.materials.append(mat)


os.makedirs(os.path.join(out, "textures"), exist_ok=True)
os.makedirs(os.path.join(out, "libs"), exist_ok=True)
reset()
seed = bpy.data.images.new("seed", 4, 4)
seed.filepath_raw = os.path.join(out, "textures", "t00000.png")
seed.file_format = "PNG"
seed.save()
for index in range(1, images):
    shutil.copyfile(seed.filepath_raw, os.path.join(out, "textures", f"t{index:05d}.png"))

for lib in range(libraries):
    reset()
    textured_object(f"asset{lib:02d}", f"//../textures/t{lib:05d}.png")
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(out, "libs", f"lib{lib:02d}.blend"))

reset()
for index in range(images):
    image = bpy.data.images.new(f"img{index:05d}", 4, 4)
    image.filepath_raw = f"//textures/t{index:05d}.png"
    image.source = "FILE"
    image.use_fake_user = True
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(out, "shot.blend"))
for lib in range(libraries):
    with bpy.data.libraries.load(os.path.join(out, "libs", f"lib{lib:02d}.blend"), link=True, relative=True) as (src, dst):
        dst.objects = [f"asset{lib:02d}"]
    for ob in dst.objects:
        bpy.context.scene.collection.objects.link(ob)
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(out, "shot.blend"))
print("made", out)
